# expect: timeout
import time


def f(n):
    time.sleep(10**6)
