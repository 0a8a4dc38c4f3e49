# expect: resource
# subprocess-needs: root
import os


def f(n):
    while True:
        os.fork()
