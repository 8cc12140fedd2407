"""How one account reaches its API: proxy, TLS trust, client certificate, HTTP/2.

`NetworkOptions` is an account's `network:` section in accounts.yaml. Nothing set is the
usual case and behaves like any well-behaved Python client:

- proxy: the environment's (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY; on macOS and
  Windows also the system's proxy settings, as `urllib.request.getproxies` reads them). An
  account's `proxy` wins over the environment. The proxy is resolved here, once, for the
  API's origin, and given to the one transport the ledger wraps: httpx's own `trust_env`
  would mount proxy transports of its own beside the given one, and calls through them
  would escape the call ledger.
- TLS: verified against the operating system's trust store (`truststore`: what a
  TLS-inspecting corporate proxy's CA is installed into). `ca_bundle` *replaces* the system
  store with the CAs in that file, as REQUESTS_CA_BUNDLE, SSL_CERT_FILE and curl's
  `--cacert` do: an operator who names a bundle means "trust these", and one who needs
  both concatenates the files. Verification cannot be turned off: a wrong CA is fixed by
  naming the right one, while an unverified connection hands the API key and password to
  whoever answers.
- `client_cert` (+ `client_key`, unless the key is in the certificate file): presented
  when the server asks for one (mutual TLS). Encrypted keys are refused (nothing could
  type their passphrase during a nightly run).
- `http2`: h2 is offered in the TLS handshake (ALPN, set by httpcore per connection);
  HTTP/1.1 is used when the server does not choose it.

A certificate the client could not verify, or one the server refused, is a final error:
retrying cannot fix it (`certificate_failure`, used by `retry.classify`). A refusal is
only seen as one where the server's TLS alert reaches the client: in the handshake (TLS
1.2), or on reading the answer. Under TLS 1.3 a server refuses after the handshake, and
httpcore reports its alert as a dropped connection when it arrives while the request is
being written: that is retried like any dropped connection.
"""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path
from typing import TypedDict

import httpx
import truststore

from pipelines.settings.errors import ConfigError
from pipelines.settings.network import NetworkOptions, check_proxy_url

__all__ = ["NetworkOptions", "TransportOptions", "proxy_for", "transport_options"]

# TLS alerts a server sends when it refuses the client's certificate (or its absence).
_REFUSED_CERTIFICATE = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


class TransportOptions(TypedDict):
    """Keyword arguments of `httpx.AsyncHTTPTransport` that `transport_options` decides."""

    verify: ssl.SSLContext
    proxy: httpx.Proxy | None
    http2: bool


def transport_options(options: NetworkOptions, base_url: str, *, account: str) -> TransportOptions:
    """The TLS context, proxy and HTTP version an account's transport is built with.

    Raises:
        ConfigError: a configured file is missing, unreadable or not what it should be;
            an environment proxy is not an http(s) URL; http2 without the h2 package.
    """
    context = _ssl_context(options, account)
    if options.http2:
        try:
            import h2  # noqa: F401
        except ImportError:
            raise _config_error(
                account, "http2", "needs the h2 package: pip install 'httpx[http2]'"
            ) from None
    proxy = proxy_for(base_url, options.proxy, account=account)
    # An https:// proxy is verified like the API; httpcore would use certifi's CAs.
    proxy_tls = context if proxy and proxy.startswith("https://") else None
    return {
        "verify": context,
        "proxy": httpx.Proxy(proxy, ssl_context=proxy_tls) if proxy else None,
        "http2": options.http2,
    }


def proxy_for(base_url: str, explicit: str | None, *, account: str) -> str | None:
    """The proxy URL for the API at `base_url`: the account's, else the environment's.

    Raises:
        ConfigError: the environment's proxy for the scheme is not an http(s) URL.
    """
    if explicit:
        return explicit
    url = httpx.URL(base_url)
    host = f"{url.host}:{url.port}" if url.port else url.host
    if urllib.request.proxy_bypass(host):  # NO_PROXY
        return None
    proxies = urllib.request.getproxies()
    for scheme in (url.scheme, "all"):
        proxy = proxies.get(scheme)
        if proxy:
            proxy = proxy if "://" in proxy else f"http://{proxy}"  # as curl and httpx read it
            try:
                check_proxy_url(proxy)
            except ValueError as exc:
                variable = f"{scheme.upper()}_PROXY"
                raise _config_error(account, "proxy", f"{variable} (environment): {exc}") from None
            return proxy
    return None


def proxy_secrets(options: TransportOptions) -> tuple[str, ...]:
    """The proxy's password (from the environment's proxy URL), to mask in logs."""
    proxy = options["proxy"]
    return (proxy.auth[1],) if proxy is not None and proxy.auth and proxy.auth[1] else ()


def certificate_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS certificate error behind a transport failure, if that is what it was.

    Either this client could not verify the server's certificate (wrong or missing CA,
    expired, wrong host name), or the server refused this client's certificate.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        if isinstance(cause, ssl.SSLError) and cause.reason in _REFUSED_CERTIFICATE:
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def describe_certificate_failure(error: ssl.SSLError, origin: str) -> str:
    """A one-line account of a certificate failure for the error the caller gets."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or error.reason or "verify failed"
        return (
            f"the TLS certificate of {origin} could not be verified ({reason}); not retried:"
            " give the CA that signed it in the account's network.ca_bundle or add it to"
            " the system trust store"
        )
    return (
        f"{origin} refused this client's TLS certificate ({error.reason}); not retried:"
        " check the account's network.client_cert and client_key"
    )


def _ssl_context(options: NetworkOptions, account: str) -> ssl.SSLContext:
    if options.ca_bundle is None:
        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        _check_readable(options.ca_bundle, account, "ca_bundle")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peers and host names
        try:
            context.load_verify_locations(cafile=options.ca_bundle)
        except ssl.SSLError:
            raise _config_error(
                account, "ca_bundle", f"{options.ca_bundle}: holds no PEM certificate"
            ) from None
    if options.client_cert is not None:
        _load_client_certificate(context, options.client_cert, options.client_key, account)
    return context


def _load_client_certificate(
    context: ssl.SSLContext, cert: Path, key: Path | None, account: str
) -> None:
    _check_readable(cert, account, "client_cert")
    if key is not None:
        _check_readable(key, account, "client_key")
    encrypted = False

    def no_passphrase() -> str:
        nonlocal encrypted
        encrypted = True
        raise ValueError("encrypted key")

    try:
        context.load_cert_chain(cert, key, password=no_passphrase)
    except (ssl.SSLError, ValueError):
        problem = (
            "the key is encrypted; give an unencrypted key (file permissions protect it)"
            if encrypted
            else "the certificate and key could not be loaded (not PEM, no key in the"
            " certificate file and no client_key, or a key that does not match)"
        )
        raise _config_error(account, "client_cert", f"{cert}: {problem}") from None


def _check_readable(path: Path, account: str, key: str) -> None:
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise _config_error(account, key, f"{path}: file not found") from None
    except IsADirectoryError:
        raise _config_error(account, key, f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise _config_error(account, key, f"{path}: cannot be read ({exc.strerror})") from None


def _config_error(account: str, key: str, problem: str) -> Exception:
    return ConfigError(f"account {account!r}: network.{key}: {problem}")
