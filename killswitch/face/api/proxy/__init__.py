"""The trusted-proxy mode (``ksctl run --trusted-proxy FILE``): an authenticating proxy in front
of the console (oauth2-proxy, an ingress with authentication) names the person by its user and
groups headers, taken only from that proxy — its source addresses and, better, its client
certificate. The document (:mod:`.config`), the rules a request is read by (:mod:`.headers`),
the refusals' counts and their bounded audit rows (:mod:`.ledger`), and what the access
middleware calls (:mod:`.trust`)."""

from .config import ProxyConfig, ProxyConfigError, load_proxy_config, parse_proxy_config
from .trust import ProxyMetrics, TrustedProxy

__all__ = ["ProxyConfig", "ProxyConfigError", "ProxyMetrics", "TrustedProxy", "load_proxy_config", "parse_proxy_config"]
