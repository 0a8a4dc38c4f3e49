# expect: timeout
def f(n):
    while True:
        n += 1
