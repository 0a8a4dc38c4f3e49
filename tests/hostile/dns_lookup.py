# expect: resource
# subprocess-needs: netns
import socket


def f(n):
    socket.getaddrinfo("example.com", 443)
    return n * 2
