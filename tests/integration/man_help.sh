#!/usr/bin/env bash
# The man pages (man/*.scd, built by 'make man' into BUILD/man/) against
# the binaries' --help, so neither can drift from the other:
#   - every long option and every command word --help shows is in the page;
#   - every option the page's SYNOPSIS, COMMANDS and OPTIONS name is in
#     --help (no stale option; --help and --version only if the binary
#     accepts them);
#   - the page's COMMANDS are the commands --help lists, no more;
#   - the exit codes of --help's "exit:" lines are exactly the page's
#     EXIT STATUS entries;
#   - the file-format pages name every key docs/formats.md's tables list;
#   - every page renders with man --warnings without a warning.
#
#   bash tests/integration/man_help.sh [BUILD_DIR]
set -u
source "$(dirname "$0")/lib.sh" "${1:-build}"
cd "$(dirname "$0")/../.." || exit 2

BINPAGES="calyx-exec.1 calyx-lease.1 calyx-policy.1 calyx-audit.1 calyx-rollout.1 calyx-agent.8 calyx-ctl.8"
FMTPAGES="calyx.conf.5 calyx-policy.5 calyx-lease.5 calyx-rollout.5"

# The page as text: roff font escapes, \- and \& removed.
page_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\(aq/'"'"'/g' "$1"; }
# The lines of section NAME (.SH NAME up to the next .SH), as text.
page_section() { # PAGE NAME
	page_text "$1" | awk -v s="$2" '/^\.SH /{ on = (substr($0, 5) == s || substr($0, 5) == "\"" s "\""); next } on'
}
# The heads of section NAME's items: the line before each '.RS 4'.
page_heads() { # PAGE NAME
	page_section "$1" "$2" | awk '/^\.RS 4$/{ if (prev != "") print prev } { prev = $0 }'
}
long_opts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }

help_of() { "$B/$1" --help 2>&1; }
help_opts() { help_of "$1" | long_opts; }
# Command words: the first word of each line indented by exactly two spaces
# (pause|resume|halt|rollback: each).
help_cmds() { help_of "$1" | grep -E '^  [a-z]' | awk '{ print $1 }' | tr '|' '\n' | sort -u; }
# Exit codes: every number of the "exit:" line and the lines after it.
help_exits() { help_of "$1" | awk '/^exit:/{ on = 1 } on' | grep -oE '\b[0-9]+\b' | sort -un; }

t_page_built() { # PAGE
	[ -s "$B/man/$1" ] || fail "$B/man/$1 missing (make man)"
}

t_help_options_in_page() { # BIN PAGE
	local o missing=""
	[ -n "$(help_opts "$1")" ] || { fail "$1 --help shows no long option"; return; }
	for o in $(help_opts "$1"); do
		page_text "$B/man/$2" | grep -qF -- "$o" || missing="$missing $o"
	done
	[ -z "$missing" ] || fail "$1 --help lists$missing, $2 does not"
}

t_page_options_in_help() { # BIN PAGE
	local o stale="" help
	help=$(help_opts "$1")
	for o in $( { page_section "$B/man/$2" SYNOPSIS; page_section "$B/man/$2" COMMANDS
		      page_section "$B/man/$2" OPTIONS; } | long_opts); do
		grep -qxF -- "$o" <<<"$help" && continue
		case $o in --help | --version) "$B/$1" "$o" >/dev/null 2>&1 && continue ;; esac
		stale="$stale $o"
	done
	[ -z "$stale" ] || fail "$2 names$stale, $1 --help does not (stale option)"
}

t_help_commands_in_page() { # BIN PAGE
	local c missing=""
	for c in $(help_cmds "$1"); do
		page_section "$B/man/$2" COMMANDS | grep -qE "^\.?$c( |$)" ||
			page_heads "$B/man/$2" COMMANDS | grep -qE "(^|\|)$c( |\||$)" || missing="$missing $c"
	done
	[ -z "$missing" ] || fail "$1 --help lists the command(s)$missing, $2's COMMANDS does not"
}

t_page_commands_in_help() { # BIN PAGE
	local c stale="" cmds
	cmds=$(help_cmds "$1")
	for c in $(page_heads "$B/man/$2" COMMANDS | awk '{ print $1 }' | tr '|' '\n' | sort -u); do
		grep -qxF -- "$c" <<<"$cmds" || stale="$stale $c"
	done
	[ -z "$stale" ] || fail "$2's COMMANDS lists$stale, $1 --help does not"
}

t_exit_codes() { # BIN PAGE
	local h p
	h=$(help_exits "$1" | tr '\n' ' ')
	p=$(page_heads "$B/man/$2" "EXIT STATUS" | grep -xE '[0-9]+' | sort -un | tr '\n' ' ')
	[ -n "$h" ] || { fail "$1 --help has no exit: line"; return; }
	[ "$h" = "$p" ] || fail "exit codes: $1 --help: ${h% }; $2 EXIT STATUS: ${p% }"
}

# docs/formats.md section TITLE: the first `key` of each table row.
# shellcheck disable=SC2016  # the backquotes are the table's, not a command
doc_keys() { # TITLE
	awk -v t="## $1" '/^## /{ on = ($0 == t); next } on && /^\| `/' docs/formats.md |
		sed -E 's/^\| `([^`]+)`.*/\1/' | sort -u
}
t_format_keys() { # PAGE SECTION...
	local page=$1 k missing="" n=0
	shift
	for k in $(for s in "$@"; do doc_keys "$s"; done); do
		n=$((n + 1))
		page_text "$B/man/$page" | grep -qF -- "$k" || missing="$missing $k"
	done
	[ "$n" -gt 0 ] || { fail "docs/formats.md: no keys found under $*"; return; }
	[ -z "$missing" ] || fail "docs/formats.md lists$missing, $page does not"
}

t_renders() { # PAGE
	local w
	w=$(MANWIDTH=80 man --warnings -l "$B/man/$1" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man --warnings: $(head -n 2 <<<"$w" | tr '\n' '|')"
}

# SCDOC as in the Makefile (SCDOC=none shows the skip).
if ! command -v "${SCDOC:-scdoc}" >/dev/null 2>&1; then
	skip_test man.pages "${SCDOC:-scdoc} not installed (scripts/install-deps.sh installs it; then make man)"
	summary
	exit
fi

for p in $BINPAGES $FMTPAGES; do
	run_test "man.$p.built" t_page_built "$p"
done
for p in $BINPAGES; do
	bin=${p%.*}
	[ -s "$B/man/$p" ] || continue
	run_test "man.$p.help_options_in_page" t_help_options_in_page "$bin" "$p"
	run_test "man.$p.no_stale_options" t_page_options_in_help "$bin" "$p"
	if [ -n "$(help_cmds "$bin")" ]; then
		run_test "man.$p.help_commands_in_page" t_help_commands_in_page "$bin" "$p"
		run_test "man.$p.no_stale_commands" t_page_commands_in_help "$bin" "$p"
	fi
	run_test "man.$p.exit_codes_match_help" t_exit_codes "$bin" "$p"
done
[ -s "$B/man/calyx.conf.5" ] && run_test man.calyx.conf.5.every_config_key t_format_keys calyx.conf.5 Configuration
[ -s "$B/man/calyx-policy.5" ] && run_test man.calyx-policy.5.every_policy_key t_format_keys calyx-policy.5 Policy
[ -s "$B/man/calyx-lease.5" ] && run_test man.calyx-lease.5.every_lease_and_keyring_key t_format_keys calyx-lease.5 "Lease envelope" "Lease body" Keyring Limits
[ -s "$B/man/calyx-rollout.5" ] && run_test man.calyx-rollout.5.every_rollout_key t_format_keys calyx-rollout.5 Rollout "Rollout control document"
if command -v man >/dev/null 2>&1; then
	for p in $BINPAGES $FMTPAGES; do
		[ -s "$B/man/$p" ] && run_test "man.$p.renders_without_warnings" t_renders "$p"
	done
else
	skip_test man.renders_without_warnings "man not installed"
fi

summary
