# expect: resource
# subprocess-needs: root
def f(n):
    with open("/root/.dreamcore-hostile", "w") as file:
        file.write("owned")
    return n * 2
