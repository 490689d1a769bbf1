"""A mix of requests, as a deployer's traffic is: which paths, by which method and in what
proportions, with what body and headers.

``--path "POST /orders=1" --path /orders/42=3 --body order.json --header "Authorization:
Bearer x"`` is three GETs of ``/orders/42`` for each POST of ``/orders``, the POST carrying
the file's bytes, every request the header. The load generators (the open loop, Locust's
AppUser) draw each request's route by weight, and the advisor profiles each route and
weighs the mix the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

#: The methods whose requests carry ``--body``.
WITH_BODY = ("POST", "PUT", "PATCH")
#: The methods a route may name.
METHODS = ("GET", "HEAD", "DELETE", "OPTIONS", *WITH_BODY)


@dataclass(frozen=True)
class Route:
    """One kind of request: a method, a path, and its weight in the mix."""

    method: str
    path: str
    weight: float = 1.0

    def __str__(self) -> str:
        """Its name in reports: the path, with its method unless GET.

        >>> str(Route("GET", "/a")), str(Route("POST", "/orders", 2))
        ('/a', 'POST /orders')
        """
        return self.path if self.method == "GET" else f"{self.method} {self.path}"

    def flag(self) -> str:
        """As ``--path`` takes it back.

        >>> Route("POST", "/orders", 2).flag(), Route("GET", "/b?x=1").flag()
        ('POST /orders=2', '/b?x=1=1')
        """
        return f"{self}={self.weight:g}"


def parse_route(text: str) -> Route:
    """``--path``'s [METHOD ]PATH[=WEIGHT] (GET and weight 1 by default). The last ``=`` of
    a query string's last parameter is the query's own, not a weight.

    >>> parse_route("/a=3"), parse_route("POST /orders")
    (Route(method='GET', path='/a', weight=3.0), Route(method='POST', path='/orders', weight=1.0))
    >>> parse_route("/b?x=1").path, parse_route("/c?x=1=0.5").weight
    ('/b?x=1', 0.5)
    """
    method, _, rest = text.strip().rpartition(" ")
    method = method.strip().upper() or "GET"
    if method not in METHODS:
        raise ValueError(f"--path {text!r}: the method must be one of {', '.join(METHODS)}")
    path, weight = _weighted(rest)
    if not path.startswith("/"):
        raise ValueError(f"--path {text!r}: a path starts with / (e.g. /orders/42)")
    return Route(method, path, weight)


def _weighted(text: str) -> tuple[str, float]:
    path, _, weight = text.rpartition("=")
    query = path.partition("?")[2]
    if not path or ("?" in path and "=" not in query.rpartition("&")[2]):
        return text, 1.0
    try:
        share = float(weight)
    except ValueError:
        return text, 1.0
    if not 0 < share < float("inf"):
        raise ValueError(f"--path {text!r}: a weight is a number above 0")
    return path, share


def parse_header(text: str) -> tuple[str, str]:
    """``--header``'s "Name: value".

    >>> parse_header("Authorization: Bearer abc")
    ('Authorization', 'Bearer abc')
    """
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
        raise ValueError(f"--header {text!r}: expected Name: value")
    return name.strip(), value.strip()


@dataclass(frozen=True)
class Traffic:
    """The routes in their proportions; the body each POST, PUT or PATCH carries (read from
    ``body_file``); the headers every request carries."""

    routes: tuple[Route, ...]
    body_file: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, paths: list[str], body_file: str | None = None,
              headers: list[str] = ()) -> Traffic:
        """From the command line's ``--path`` (at least one), ``--body`` and ``--header``
        (a ``.json`` body says so in a Content-Type, unless a header gives one); ValueError
        with the line to say where one is wrong."""
        routes = tuple(parse_route(text) for text in paths) or (Route("GET", "/"),)
        body = b""
        if body_file is not None:
            try:
                body = Path(body_file).read_bytes()
            except OSError as error:
                raise ValueError(f"--body {body_file}: {error.strerror}") from None
        if body_file is None and any(r.method in WITH_BODY for r in routes):
            raise ValueError(f"--path {next(r for r in routes if r.method in WITH_BODY)}: "
                             "give its body with --body FILE")
        parsed = tuple(parse_header(text) for text in headers)
        if (body_file or "").endswith(".json") and not any(
                name.lower() == "content-type" for name, _ in parsed):
            parsed += (("Content-Type", "application/json"),)  # as curl --json would say
        return cls(routes, body_file, parsed, body)

    @property
    def shares(self) -> tuple[float, ...]:
        """Each route's share of the requests.

        >>> Traffic((Route("GET", "/a", 3), Route("GET", "/b"))).shares
        (0.75, 0.25)
        """
        total = sum(r.weight for r in self.routes)
        return tuple(r.weight / total for r in self.routes)

    def body_for(self, route: Route) -> bytes | None:
        return self.body if route.method in WITH_BODY else None

    def chooser(self, seed: int | None = None):
        """A function that draws the next request's route by weight (seeded)."""
        if len(self.routes) == 1:
            return lambda: self.routes[0]
        draw = random.Random(seed)
        weights = [r.weight for r in self.routes]
        return lambda: draw.choices(self.routes, weights)[0]

    def cycle(self):
        """A function that gives the routes in turn, each as often as its weight says,
        spread evenly (nginx's smooth weighted round robin): a closed loop's exact mix.

        >>> turn = Traffic((Route("GET", "/a", 3), Route("GET", "/b"))).cycle()
        >>> "".join(turn().path[1] for _ in range(8))
        'aabaaaba'
        """
        current = [0.0] * len(self.routes)
        total = sum(r.weight for r in self.routes)

        def turn() -> Route:
            for index, route in enumerate(self.routes):
                current[index] += route.weight
            best = max(range(len(self.routes)), key=current.__getitem__)
            current[best] -= total
            return self.routes[best]

        return turn

    def flags(self) -> list[str]:
        """The command line that gives this mix to a load generator."""
        flags = [f for r in self.routes for f in ("--path", r.flag())]
        if self.body_file is not None:
            flags += ["--body", self.body_file]
        return flags + [f for name, value in self.headers for f in ("--header",
                                                                    f"{name}: {value}")]
