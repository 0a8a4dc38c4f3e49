"""``retry``: a bounded retry loop with exponential backoff around a statement that looks like I/O."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.nodes import FunctionNode, call_name, counterpart
from dreamcore.analysis.syntax import name_tokens, snippet, statement_position, walk_with_parents

from .subject import Change, Subject

# a call whose name starts with one of these looks like I/O on its own ...
IO_VERBS = frozenset({"fetch", "request", "charge", "send", "sendall", "download", "upload", "post", "query",
                      "connect", "recv", "receive", "poll", "submit", "publish", "refund", "pull", "authorize",
                      "capture"})
# ... these only when the callee is an injected callable (a parameter) or names something remote
WEAK_IO_VERBS = frozenset({"get", "read", "load", "put", "list", "call", "invoke"})
REMOTE_NOUNS = frozenset({"page", "pages", "url", "http", "api", "remote", "resource", "json", "document", "feed",
                          "endpoint", "blob", "object", "records", "observations", "payload", "response",
                          "service", "server"})
# receivers that look like a connection to something remote
CLIENT_NOUNS = frozenset({"client", "session", "conn", "connection", "sock", "socket", "transport", "api", "http",
                          "gateway", "processor", "service", "remote", "stub", "channel", "proactor", "broker",
                          "requests", "httpx", "smtp", "ftp", "imap", "bucket", "s3", "redis", "db", "database"})
# names that mark event-loop plumbing, signals and callbacks, not remote calls
NOT_IO = frozenset({"signal", "exception", "handler", "callback", "soon", "later", "threadsafe", "hook", "hooks",
                    "event", "loop", "retry", "retries", "extra", "info", "buffer", "name", "ident"})


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """A retry loop around each I/O statement outside a ``try``, unless the function retries already."""
    if "retry" in s.name.lower():
        return
    if s.name.startswith("__") and s.name.endswith("__"):
        return  # constructors, __repr__, __del__...: no sleeping retries there
    nodes, parents = walk_with_parents(s.function)
    if _already_retries(nodes, parents):
        return
    attempts, base = config.retry_attempts, config.retry_base_delay
    for scope, statement, call in _io_statements(s.function, nodes, parents):
        callee = snippet(call.func, 40)
        is_async = isinstance(scope, ast.AsyncFunctionDef)
        module = "asyncio" if is_async else "time"
        sleep = f"await asyncio.sleep({base} * 2 ** _attempt)" if is_async else f"time.sleep({base} * 2 ** _attempt)"
        waits = ", ".join(f"{base * 2 ** i:g}s" for i in range(attempts - 1))
        loop_text = (
            f"for _attempt in range({attempts}):\n"
            f"    try:\n"
            f"        pass\n"
            f"    except (ConnectionError, TimeoutError):\n"
            f"        if _attempt == {attempts - 1}:\n"
            f"            raise\n"
            f"        {sleep}\n"
            + ("" if isinstance(statement, ast.Return) else "    else:\n        break\n")
        )

        def rewrite(tree: ast.Module, function: FunctionNode, statement: ast.stmt = statement,
                    loop_text: str = loop_text, module: str = module) -> list[str]:
            target = counterpart(statement, s.tree, tree)
            loop = ast.parse(loop_text).body[0]
            loop.body[0].body = [target]
            statements, position = statement_position(tree, target)
            statements[position] = loop
            return [module]

        line = s.line(statement)
        verbs = "charge or send" if set(name_tokens(callee)) & {"charge", "send", "post"} else "call"
        yield Change(
            kind="retry",
            rewrite=rewrite,
            description=f"retry `{snippet(statement, 60)}` (line {line}) up to {attempts} attempts on "
                        f"ConnectionError/TimeoutError, sleeping {waits} between attempts ({module}.sleep)",
            reasoning=f"`{callee}` looks like I/O, where connection resets and timeouts are usually transient; "
                      f"{attempts} bounded attempts with exponential backoff ride out a blip without hammering the "
                      f"other side, and the last failure still propagates unchanged. Only safe if `{callee}` is "
                      f"idempotent — a retried {verbs} that had actually gone through would happen twice.",
        )


def _already_retries(nodes: list[ast.AST], parents: dict[int, ast.AST]) -> bool:
    """A try statement inside a loop (see ``walk_with_parents``): the function has its own retry or
    fallback logic."""
    for node in nodes:
        if isinstance(node, ast.Try):
            parent = parents.get(id(node))
            while parent is not None:
                if isinstance(parent, ast.For | ast.AsyncFor | ast.While):
                    return True
                parent = parents.get(id(parent))
    return False


def _io_call(node: ast.AST, params: set[str]) -> ast.Call | None:
    """The I/O-looking call a statement's value is (``x = fetch(...)``, ``await client.send(...)``).

    An injected callable (a parameter) named with an I/O verb (``fetch``, ``get_page``); a method with
    an I/O verb on something that looks like a client (``self.session.get``, ``sock.sendall``) or on an
    injected object (``sink.send``, strong verbs only); a function named with a strong I/O verb and
    nothing else or something remote (``fetch_observations``, not ``request_host``)."""
    if isinstance(node, ast.Await):
        node = node.value
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = call_name(node)
    words = name_tokens(name)
    if not words or NOT_IO & set(words) or name[:1].isupper():  # Request(...) builds, it does not send
        return None
    strong, weak = words[0] in IO_VERBS, words[0] in WEAK_IO_VERBS
    weak = weak and (len(words) == 1 or bool(REMOTE_NOUNS & set(words[1:])))
    if isinstance(func, ast.Name):
        if func.id in params:  # an injected callable: get_page(...) is as remote as it gets
            return node if strong or words[0] in WEAK_IO_VERBS else None
        return node if strong and (len(words) == 1 or REMOTE_NOUNS & set(words[1:])) else None
    if isinstance(func, ast.Attribute):
        receiver = func.value
        receiver_name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
        client_like = bool(CLIENT_NOUNS & set(name_tokens(receiver_name)))
        injected = isinstance(receiver, ast.Name) and receiver.id in params and receiver.id not in ("self", "cls")
        if client_like and (strong or weak) or injected and strong:
            return node
    return None


def _io_statements(function: FunctionNode, nodes: list[ast.AST],
                   parents: dict[int, ast.AST]) -> Iterator[tuple[FunctionNode, ast.stmt, ast.Call]]:
    """(enclosing function, statement, call) for each simple statement whose value is an I/O call
    (``nodes`` and ``parents`` from ``walk_with_parents(function)``)."""
    params = {a.arg for n in nodes if isinstance(n, FunctionNode)
              for a in [*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs]}
    for node in nodes:
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr | ast.Return):
            continue
        call = None if node.value is None else _io_call(node.value, params)
        if call is None or any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
            continue
        scope, inside_try, parent = None, False, parents.get(id(node))
        while parent is not None:
            if isinstance(parent, ast.Try | getattr(ast, "TryStar", ast.Try)):
                inside_try = True
            if isinstance(parent, FunctionNode | ast.Lambda | ast.ClassDef):
                scope = parent
                break
            parent = parents.get(id(parent))
        if scope is None:
            scope = function
        if inside_try or not isinstance(scope, FunctionNode):
            continue
        yield scope, node, call
