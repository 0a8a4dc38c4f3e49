# expect: success
def f(n):
    for _ in range(20):
        print("x" * 1_000_000)
    return n * 2
