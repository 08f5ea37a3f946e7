#!/usr/bin/env python3
"""Validate SARIF logs against a JSON schema (Draft 7), offline.

usage: sarif_check.py SCHEMA FILE...

For each FILE prints "FILE: ok", or one line per schema violation:
    FILE: $.runs[0].results[0].level: 'fatal' is not one of [...]
Exit status: 0 every FILE is valid, 1 some FILE is invalid,
2 usage error, or SCHEMA / some FILE cannot be read or parsed, or the
schema itself is invalid or refers to anything outside itself.

Works with Debian's python3-jsonschema (4.10) and with newer jsonschema
(4.18+, which resolves $ref through the 'referencing' library).

No network, ever: a $ref that is not inside SCHEMA is refused (exit 2)
instead of fetched. The SARIF 2.1.0 schema's refs are all "#/definitions/...".

Formats: jsonschema checks "uri" and "date-time" only when optional
packages are installed, so the result would depend on the machine. This
script instead checks the three formats the SARIF 2.1.0 schema uses
(date-time, uri, uri-reference) itself, the same way everywhere, and no
other format; a schema that uses another format gets a note on stderr.
"""

import datetime
import json
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft7Validator, FormatChecker
    from jsonschema.exceptions import best_match
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write("sarif_check: python3-jsonschema is required (%s)\n" % e)
    sys.exit(2)

USAGE = "usage: sarif_check.py SCHEMA FILE..."
MAX_MSG = 400

# --- formats (RFC 3339 date-time, RFC 3986 URI / URI-reference) ----------

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
# unreserved / gen-delims / sub-delims, and '%' (checked separately)
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_BAD_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")

FORMATS = ("date-time", "uri", "uri-reference")


def _is_date_time(s):
    m = _DATE_TIME.match(s)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.date(y, mo, d)
    except ValueError:
        return False
    if h > 23 or mi > 59 or sec > 60:  # 60: leap second
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def _uri_syntax(s):
    return (_URI_CHARS.match(s) is not None and not _BAD_PCT.search(s)
            and s.count("#") <= 1)


def _is_uri(s):
    scheme, colon, _ = s.partition(":")
    return bool(colon) and _SCHEME.match(scheme) is not None and _uri_syntax(s)


def _is_uri_reference(s):
    if not _uri_syntax(s):
        return False
    # A ':' before the first '/', '?' or '#' can only end a scheme.
    head = re.split(r"[/?#]", s, maxsplit=1)[0]
    if ":" in head:
        return _SCHEME.match(head.partition(":")[0]) is not None
    return True


def _format_checker():
    fc = FormatChecker(formats=())  # none of jsonschema's optional-package ones
    for name, fn in (("date-time", _is_date_time), ("uri", _is_uri),
                     ("uri-reference", _is_uri_reference)):
        fc.checks(name)(lambda inst, fn=fn: not isinstance(inst, str) or fn(inst))
    return fc


def _formats_in(node, found):
    if isinstance(node, dict):
        f = node.get("format")
        if isinstance(f, str):
            found.add(f)
        for v in node.values():
            _formats_in(v, found)
    elif isinstance(node, list):
        for v in node:
            _formats_in(v, found)
    return found


# --- $ref: this schema only, never the network ---------------------------

class RemoteRef(Exception):
    pass


def _validator(schema):
    kw = {"format_checker": _format_checker()}
    try:
        import referencing  # jsonschema >= 4.18
        import referencing.exceptions

        def refuse(uri):
            raise referencing.exceptions.NoSuchResource(ref=uri)
        try:
            return Draft7Validator(schema, registry=referencing.Registry(retrieve=refuse), **kw)
        except TypeError:  # 'referencing' installed beside an older jsonschema
            pass
    except ImportError:
        pass

    from jsonschema import RefResolver  # jsonschema < 4.18

    class LocalOnly(RefResolver):
        def resolve_remote(self, uri):
            raise RemoteRef(uri)

    return Draft7Validator(schema, resolver=LocalOnly.from_schema(schema), **kw)


# --- output ---------------------------------------------------------------

def _path(parts):
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        elif re.match(r"^[A-Za-z_$][A-Za-z0-9_$]*$", p):
            out += "." + p
        else:
            out += "[" + json.dumps(p) + "]"
    return out


def _one_line(s):
    s = " ".join(s.split())
    return s if len(s) <= MAX_MSG else s[:MAX_MSG - 3] + "..."


def _describe(err):
    msg = err.message
    if err.context:  # anyOf / oneOf: say which branch came closest
        sub = best_match(err.context)
        msg += " (closest: %s: %s)" % (_path(sub.absolute_path), sub.message)
    return _path(err.absolute_path) + ": " + _one_line(msg)


def _load(path, what):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8")), None
    except OSError as e:
        return None, "%s: cannot read %s: %s" % (path, what, e.strerror or e)
    except UnicodeDecodeError as e:
        return None, "%s: %s is not UTF-8: %s" % (path, what, e)
    except ValueError as e:
        return None, "%s: %s is not JSON: %s" % (path, what, e)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        return 2
    schema_path, files = argv[1], argv[2:]
    schema, err = _load(schema_path, "schema")
    if err:
        sys.stderr.write(err + "\n")
        return 2
    try:
        Draft7Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        sys.stderr.write("%s: not a valid Draft 7 schema: %s: %s\n"
                         % (schema_path, _path(e.absolute_path), _one_line(e.message)))
        return 2
    unchecked = sorted(_formats_in(schema, set()) - set(FORMATS))
    if unchecked:
        sys.stderr.write("%s: note: format not checked: %s\n" % (schema_path, ", ".join(unchecked)))
    validator = _validator(schema)

    status = 0
    for path in files:
        inst, err = _load(path, "file")
        if err:
            sys.stderr.write(err + "\n")
            status = 2
            continue
        try:
            errors = sorted(validator.iter_errors(inst),
                            key=lambda e: ([(isinstance(p, str), p) for p in e.absolute_path],
                                           e.message))
        except Exception as e:  # a $ref outside the schema, refused
            if isinstance(e, RemoteRef) or \
                    type(e).__module__.startswith(("referencing", "jsonschema")):
                sys.stderr.write("%s: schema $ref cannot be resolved offline: %s\n"
                                 % (schema_path, _one_line(str(e))))
                return 2
            raise
        if not errors:
            print("%s: ok" % path)
            continue
        for e in errors:
            print("%s: %s" % (path, _describe(e)))
        status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
