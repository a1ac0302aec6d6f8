"""Secrets and personal data in text: found, counted by kind, and redacted with typed placeholders.

Secrets (API keys and tokens of known services, private keys, passwords in URLs and in config strings) are found
by detect-secrets' plugins and heuristic filters. Its line scan is slow (about 0.3 MB/s: every plugin on every
line), so each plugin's own patterns, and the keyword detector's key names, first pick the lines worth scanning;
a line that none of them matches cannot hold a finding of those plugins. Personal data (e-mail addresses, IP
addresses) are found by patterns and checked with the standard library: reserved e-mail domains (example.com,
.test, ...) and addresses that are not globally routable (private, loopback, documentation ranges) or that name
well-known public resolvers are not personal, and are kept.

A finding is a span of the text and a kind (`aws_access_key`, `email`, ...); a redacted text holds
`<SECRET:kind>` or `<PII:kind>` where the span was.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

SECRET = "SECRET"
PERSONAL = "PII"
EMAIL, IP_ADDRESS = "email", "ip_address"
PLACEHOLDER = re.compile(r"<(?:SECRET|PII):[a-z0-9_]+>")

# detect-secrets' plugins for secrets that have a known shape or a telling name; its high-entropy detectors flag
# hashes, test vectors and base64 data throughout code, and its public-IP plugin is replaced by the check below.
SKIPPED_PLUGINS = frozenset({"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"})
# Plugins of detect-secrets 1.5.0 whose patterns (slow ones: a dozen optional groups at every position) all need one
# of these words on the line: its keyword detector (api_key, password, secret, ...), and the Cloudant, IBM Cloud IAM,
# IBM COS HMAC and SoftLayer detectors (key, pw, pass, token, or the service's URL). Lines holding none are not
# scanned by them; the other plugins' patterns pick their own lines.
WORDED_PLUGINS = frozenset({"KeywordDetector", "CloudantDetector", "IbmCloudIamDetector", "IbmCosHmacDetector",
                            "SoftlayerDetector"})
WORDED_LINE = re.compile(r"key|pw|pass|token|secret|contrase|softlayer|cloudant")  # on lower-cased text
# detect-secrets' own heuristic filters (those of its `scan` command that judge a secret, not a file).
HEURISTIC_FILTERS = ("is_sequential_string", "is_potential_uuid", "is_likely_id_string", "is_templated_secret",
                     "is_prefixed_with_dollar_sign", "is_indirect_reference", "is_not_alphanumeric_string")
# A token's characters: a plugin's finding may be only the token's prefix (`ghp` of a GitHub token, a JWT
# without its signature), so the redacted span runs on over them.
TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-+/=]*(?:\.[A-Za-z0-9_\-+/=]+)*")  # a dot inside, not at the end
PRIVATE_KEY_BLOCK = re.compile(r"-*BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-*.*?(?:-*END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-*|\Z)",
                               re.DOTALL)

EMAIL_ADDRESS = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
RESERVED_DOMAINS = re.compile(r"(^|\.)(example\.(com|org|net)|example|test|invalid|localhost|local)$", re.IGNORECASE)
FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ts", "py"})  # icon@2x.png
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# Two colons among hex digits, then the standard library judges the whole (an empty group would make the pattern
# start a match at every character).
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*(?![\w:])")
PUBLIC_RESOLVERS = frozenset({"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
                              "208.67.222.222", "208.67.220.220", "2001:4860:4860::8888", "2001:4860:4860::8844"})
VERSION_BEFORE = re.compile(r"(version\W{0,3}|\bv)$", re.IGNORECASE)  # "version 1.2.3.4", "v1.2.3.4"


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    category: str  # SECRET or PERSONAL
    kind: str  # aws_access_key, private_key, basic_auth_credentials, secret_keyword, email, ip_address, ...

    @property
    def label(self) -> str:
        """How the finding is counted and named: `secret:aws_access_key`, `pii:email`."""
        return f"{self.category.lower()}:{self.kind}"

    @property
    def placeholder(self) -> str:
        return f"<{self.category}:{self.kind}>"


def kind_of(secret_type: str) -> str:
    """detect-secrets' secret type as a kind: 'AWS Access Key' -> 'aws_access_key'."""
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


class SensitiveScanner:
    """Finds secrets and personal data in a text; either search may be turned off."""

    def __init__(self, secrets: bool = True, personal_data: bool = True):
        self.secrets = secrets
        self.personal_data = personal_data

    def find(self, text: str, filename: str = "snippet.txt") -> list[Finding]:
        """Every finding in `text`, in order, without overlaps (the first of two overlapping ones is kept).
        `filename` tells detect-secrets' keyword detector the language's assignment syntax."""
        found = []
        if self.secrets:
            found += self._secrets(text, filename)
        if self.personal_data:
            found += _emails(text) + _ip_addresses(text)
        kept: list[Finding] = []
        for finding in sorted(found):
            if kept and finding.start < kept[-1].end:
                continue
            kept.append(finding)
        return kept

    def _secrets(self, text: str, filename: str) -> list[Finding]:
        from detect_secrets.core.scan import _process_line_based_plugins  # the pinned version's line scan

        patterns = _configured_detect_secrets()
        lowered = text.lower()  # the worded lines' pattern is faster on lower case than ignoring case
        starts = _line_starts(text)
        candidates = {_line_of(starts, match.start()) for match in WORDED_LINE.finditer(lowered)}
        candidates.update(_line_of(starts, match.start()) for pattern in patterns for match in pattern.finditer(text))
        if not candidates:
            return []
        lines = text.split("\n")
        secrets = _process_line_based_plugins([(number + 1, lines[number]) for number in sorted(candidates)], filename)
        found = []
        for secret in secrets:
            number = secret.line_number - 1
            offset, line = starts[number], lines[number]
            kind = kind_of(secret.type)
            if kind == "private_key":
                found += [Finding(block.start(), block.end(), SECRET, kind)
                          for block in PRIVATE_KEY_BLOCK.finditer(text, offset)
                          if block.start() < offset + len(line)]
                continue
            value = secret.secret_value or ""
            position = line.find(value) if value else -1
            while position >= 0:
                end = TOKEN_TAIL.match(line, position + len(value)).end()
                found.append(Finding(offset + position, offset + end, SECRET, kind))
                position = line.find(value, end)
        return found


@lru_cache(maxsize=1)
def _configured_detect_secrets() -> list[re.Pattern]:
    """Sets detect-secrets' settings (global to the process: its plugins and heuristic filters, once for every
    scanner, as nothing else here uses it) and returns the patterns that pick the lines its plugins may flag,
    besides the worded ones."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline, get_filters, get_settings

    plugins = [cls for cls in get_mapping_from_secret_type_to_class().values() if cls.__name__ not in SKIPPED_PLUGINS]
    cache_bust()
    configure_settings_from_baseline({
        "plugins_used": [{"name": cls.__name__} for cls in plugins],
        "filters_used": [{"path": f"detect_secrets.filters.heuristic.{name}"} for name in HEURISTIC_FILTERS],
    })
    get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")  # there is no file on disk
    get_filters.cache_clear()
    return [pattern for cls in plugins if cls.__name__ not in WORDED_PLUGINS for pattern in getattr(cls, "denylist", ())]


def _line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in re.finditer("\n", text)]


def _line_of(starts: list[int], position: int) -> int:
    return bisect_right(starts, position) - 1


def _emails(text: str) -> list[Finding]:
    found = []
    for match in EMAIL_ADDRESS.finditer(text):
        domain = match.group().rsplit("@", 1)[1]
        if RESERVED_DOMAINS.search(domain) or domain.rsplit(".", 1)[1].lower() in FILE_SUFFIXES:
            continue
        found.append(Finding(match.start(), match.end(), PERSONAL, EMAIL))
    return found


def _ip_addresses(text: str) -> list[Finding]:
    found = []
    for pattern in (IPV4, IPV6):
        for match in pattern.finditer(text):
            try:
                address = ipaddress.ip_address(match.group())
            except ValueError:
                continue
            if not address.is_global or str(address) in PUBLIC_RESOLVERS:
                continue
            if VERSION_BEFORE.search(text, max(0, match.start() - 12), match.start()):
                continue
            found.append(Finding(match.start(), match.end(), PERSONAL, IP_ADDRESS))
    return found


@lru_cache(maxsize=1)
def shared_scanner() -> SensitiveScanner:
    """One scanner for secrets and personal data both, its detect-secrets settings built once."""
    return SensitiveScanner()


def redact(text: str, findings: Iterable[Finding]) -> str:
    """`text` with each finding's span replaced by its placeholder (findings without overlaps, as `find` gives)."""
    parts, position = [], 0
    for finding in sorted(findings):
        parts += [text[position:finding.start], finding.placeholder]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def counts(findings: Iterable[Finding]) -> Counter:
    """Findings by label (`secret:aws_access_key`, `pii:email`)."""
    return Counter(finding.label for finding in findings)


def summary(findings: Iterable[Finding]) -> str:
    """'aws_access_key, email' : the kinds found, for a reason or a message."""
    return ", ".join(sorted({finding.kind for finding in findings}))
