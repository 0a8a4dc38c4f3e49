# expect: resource
def f(n):
    kept = []
    while True:
        kept.append(open("/dev/null"))
