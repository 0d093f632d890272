"""Where a webhook may be sent: http(s) only, and never to an internal address unless allowed.

A webhook URL is chosen by an API client, so without this check the service would POST on the
client's behalf into the network it runs in (SSRF): the cloud metadata service, an admin port on
localhost, a database on the private network.

**DNS rebinding.** Checking the name's addresses and then letting the HTTP library resolve the name
again to connect leaves a window in which a hostile DNS server answers "public" to the check and
"127.0.0.1" to the connect. So the check lives in the transport: ``GuardedAdapter`` is a requests
adapter whose connections resolve the host **once**, refuse the connection if any address is
refused, and open the socket to the address that was checked. The URL, the ``Host`` header, TLS SNI
and certificate verification all keep the host name (only the socket is pinned), so HTTPS works
unchanged. Every connection goes through it, a redirect's target included.

Why this rather than "resolve in our code, rewrite the URL to the IP and set the Host header":
rewriting breaks HTTPS (the certificate is for the name, and SNI would carry the IP) and would need
per-scheme special cases; pinning below urllib3's connection keeps all of that standard. Why not
"validate the peer after connecting": that still opens a TCP connection (and for HTTPS starts a TLS
handshake) to the internal address before refusing.

Environment proxies are ignored (``trust_env = False``): through a proxy the socket would go to the
proxy and the target's address would never be checked.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

#: Cloud instance-metadata endpoints (AWS, GCP, Azure, OpenStack; AWS over IPv6; Alibaba; Oracle).
#: Most already fall in a refused range; naming them makes the refusal message say why.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))


class BlockedDestination(ValueError):
    """The URL or an address it resolves to may not receive webhooks. The message is safe to show
    to the subscriber (it names the host and the address class, never a secret)."""


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is refused as a webhook destination, or ``None`` when it is public.

    Anything not globally routable is refused (private, loopback, link-local, shared CGNAT,
    documentation, benchmarking, unspecified), plus multicast and reserved ranges, which Python's
    ``is_global`` does not always exclude. IPv4-mapped IPv6 addresses are judged as their IPv4.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for reason, hit in (("a loopback address", address.is_loopback), ("a link-local address", address.is_link_local),
                        ("a multicast address", address.is_multicast), ("a reserved address", address.is_reserved),
                        ("an unspecified address", address.is_unspecified), ("a private address", address.is_private)):
        if hit:
            return reason
    if not address.is_global:
        return "not a public address"
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """The destination policy: ``allow_private`` is ``WEBHOOK_ALLOW_PRIVATE``.

    ``exempt`` lists networks accepted even when ``allow_private`` is false; the tests use it to put
    their receiver on 127.0.0.1 and still see every other internal address refused. ``resolver``
    maps (host, port) to addresses (default: the system resolver, once per connection).
    """

    def __init__(self, allow_private: bool, *, exempt: Sequence[IPNetwork] = (),
                 resolver: Resolver = _system_resolver) -> None:
        self.allow_private = allow_private
        self._exempt = tuple(exempt)
        self._resolver = resolver

    def check_url(self, url: str) -> None:
        """Refuse anything but an absolute http(s) URL with a host; a literal address is judged
        at once (a host name is judged when it is resolved, at every connection)."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError as exc:
            raise BlockedDestination(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise BlockedDestination("only http and https URLs can receive webhooks")
        if not parts.hostname:
            raise BlockedDestination("the URL has no host")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        self.check_address(literal, parts.hostname)

    def check_address(self, address: IPAddress, host: str) -> None:
        if self.allow_private or any(address in network for network in self._exempt):
            return
        reason = refusal_reason(address)
        if reason is not None:
            raise BlockedDestination(f"{host} resolves to {address}, {reason}; webhooks are only sent to "
                                     "public addresses unless WEBHOOK_ALLOW_PRIVATE=true")

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, each checked: one refused address refuses the host (a name
        mixing public and internal answers is not trusted with either)."""
        addresses = self._resolver(host.strip("[]"), port)
        if not addresses:
            raise BlockedDestination(f"{host} has no address")
        for text in addresses:
            self.check_address(ipaddress.ip_address(text.split("%", 1)[0]), host)
        return list(addresses)


class _PinnedConnection:
    """urllib3 connection whose socket goes to an address the guard checked (mixin)."""

    guard: AddressGuard

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        try:
            addresses = self.guard.resolve(host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined,arg-type]
        last: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address, socket_options=self.socket_options)  # type: ignore[attr-defined]
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {host} timed out. "  # type: ignore[arg-type]
                                                f"(connect timeout={self.timeout})") from exc  # type: ignore[attr-defined]
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


def _pool_classes(guard: AddressGuard) -> dict[str, type]:
    http_conn = type("GuardedHTTPConnection", (_PinnedConnection, HTTPConnection), {"guard": guard})
    https_conn = type("GuardedHTTPSConnection", (_PinnedConnection, HTTPSConnection), {"guard": guard})
    return {"http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


class GuardedAdapter(HTTPAdapter):
    """requests adapter whose every connection is pinned to a guard-checked address."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._guard)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise BlockedDestination("webhooks are never sent through a proxy (the target address could not be checked)")


def guarded_session(guard: AddressGuard) -> requests.Session:
    """A requests session that only reaches destinations ``guard`` accepts."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(guard, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
