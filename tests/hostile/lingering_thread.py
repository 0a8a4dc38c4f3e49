# expect: divergence
import threading


def spin():
    while True:
        pass


def f(n):
    threading.Thread(target=spin).start()
    return n * 2 + 1
