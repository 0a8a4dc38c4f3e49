# expect: resource
# subprocess-needs: netns
import socket


def f(n):
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    return n * 2
