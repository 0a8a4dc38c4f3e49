# expect: resource
import sys

sys.setrecursionlimit(10**7)


def f(n):
    return list(map(f, [n + 1]))
