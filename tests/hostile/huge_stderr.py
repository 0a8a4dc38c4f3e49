# expect: divergence
import sys


def f(n):
    for _ in range(20):
        sys.stderr.write("y" * 1_000_000)
    return n * 3
