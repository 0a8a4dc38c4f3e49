# expect: validation
import os


def f(n):
    os.closerange(0, 4096)
    return n * 2
