# expect: runtime
def f(n):
    raise SystemExit(0)
