"""Single sign-on for the console: OpenID Connect (``ksctl run --oidc-config``).

The room: :mod:`.config` (the configuration file, read and checked), :mod:`.provider` (discovery,
the provider's keys, the code exchange, the ID token checked), :mod:`.session` (the signed
session cookie, the sessions ended, each name bound to one subject) and :mod:`.flow` (the
endpoints ``/v1/auth/login``, ``/v1/auth/callback``, ``/v1/auth/logout`` and the session cookie as
a way into the API). Tokens stay for bots and scripts; a bearer header wins over a cookie.
"""

from .config import OidcConfig, SigninConfigError, load_oidc_config
from .flow import Signin, make_signin
from .provider import ProviderError

__all__ = ["OidcConfig", "ProviderError", "Signin", "SigninConfigError", "load_oidc_config", "make_signin"]
