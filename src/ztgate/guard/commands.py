"""Destructive and exfiltrating shell commands, found by parsing rather than grepping.

A string is split into simple commands with :mod:`shlex` (quotes, escapes and the
operators ``| || && ; & > >> <`` understood), wrappers such as ``sudo``, ``env``,
``nohup`` and variable assignments are peeled off, ``sh -c``/``eval``/``$(...)``/
backquote bodies are parsed again (to a fixed depth), and each command is judged by its
program name and arguments: ``rm -rf /``, ``mkfs``, ``dd of=/dev/sda``, ``curl … | sh``,
reverse shells, ``chmod -R 777 /``. Parsing is what tells ``rm -rf /`` from
``echo "never run rm -rf /"``.
"""

from __future__ import annotations

import itertools
import posixpath
import shlex
from dataclasses import dataclass

import re2

from ztgate.guard._regex import Pattern, encodable
from ztgate.guard.findings import Finding, FindingType, Severity, Span

MAX_COMMAND_CHARS = 8192
MAX_DEPTH = 3
MAX_COMMANDS = 256

_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ";;", "|&", "(", ")", "\n"})
_REDIRECTS = frozenset({">", ">>", "<", ">&", "&>", "<>", ">|", "&>>", "<<", "<<<"})
_WRAPPERS = frozenset(
    {"sudo", "doas", "env", "nohup", "time", "nice", "ionice", "exec", "command", "builtin",
     "stdbuf", "timeout", "chroot", "busybox", "xargs", "then", "do", "else", "!", "strace",
     "ltrace", "setsid", "flock", "unbuffer", "caffeinate"}
)  # fmt: skip
# Wrapper flags that take a value (``sudo -u root``), and positionals a wrapper takes
# before the command it runs (``timeout 5 rm ...``, ``chroot /mnt rm ...``).
_VALUE_FLAGS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-U", "-r", "-t", "-D"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C"}),
    "nice": frozenset({"-n"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "timeout": frozenset({"-s", "-k"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "time": frozenset({"-f", "-o"}),
    "exec": frozenset({"-a"}),
    "flock": frozenset({"-w", "-E"}),
    "strace": frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-P", "-a", "-I", "-b", "-O", "-S"}),
    "ltrace": frozenset({"-o", "-e", "-p", "-s", "-u", "-n", "-a", "-A", "-D", "-l", "-L", "-x"}),
}
_DEFAULT_VALUE_FLAGS = frozenset({"-u", "-g", "-n", "-s", "-k"})
_WRAPPER_POSITIONALS = {"timeout": 1, "chroot": 1, "flock": 1}
# Programs that run their arguments, joined, as a shell command (``watch rm -rf /``).
_JOINING_RUNNERS = frozenset({"eval", "watch"})
# Programs that decode data (base64, hex dumps, compression): their output piped into an
# interpreter is code nobody could read before it ran.
_DECODERS = frozenset({"base64", "base32", "xxd", "gunzip", "zcat", "uudecode", "openssl"})
# Interpreter flags that take program text (``python -c``, ``perl -e``, ``php -r``).
_CODE_FLAGS = frozenset({"-c", "-e", "-E", "-r", "--eval", "-Command", "-command"})
# Calls by which interpreted code runs a shell command; only then are its string literals
# judged as commands (``print('rm -rf /')`` is not).
_SHELL_OUT = re2.compile(
    r"(?i:\bsystem\b|popen|subprocess|\bexec[a-z]*\s*\(|spawn|child_process|os\.system|"
    r"shell_exec|passthru|`|%x|qx|Invoke-Expression|\biex\b|Start-Process)"
)
_LITERAL = re2.compile(r"'([^']*)'|\"([^\"]*)\"|\bq[qx]?\(([^()]*)\)")
_RMTREE = re2.compile(r"rmtree\(\s*['\"]([^'\"]*)['\"]")
# Files whose overwrite breaks or takes over the system, and where a line added is a
# back door.
_SYSTEM_FILES = re2.compile(
    r"^/etc/(?:passwd|shadow|group|gshadow|sudoers|sudoers\.d/.*|crontab|cron\.[a-z]+/.*|"
    r"ld\.so\.preload|profile|bash\.bashrc|environment|pam\.d/.*|ssh/sshd_config)$"
)
_PERSISTENCE_FILES = re2.compile(
    r"(?:^|/)(?:\.ssh/authorized_keys2?|\.bashrc|\.bash_profile|\.profile|\.zshrc)$"
)
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish", "ash", "busybox", "csh", "tcsh"})
_INTERPRETERS = _SHELLS | frozenset(
    {"python", "python3", "python2", "perl", "ruby", "node", "php", "lua", "powershell", "pwsh"}
)
_UPLOAD_FLAGS = frozenset(
    {"-d", "--data", "--data-binary", "--data-raw", "-F", "--form", "-T", "--upload-file",
     "--post-file", "--body-file"}
)  # fmt: skip
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "lwp-download"})
_SYSTEM_DIRS = frozenset(
    {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
     "/sbin", "/srv", "/sys", "/usr", "/var", "/mnt", "/media", "/System", "/Users",
     "/Library", "/Applications", "/private"}
)  # fmt: skip
_SENSITIVE_FILES = re2.compile(
    r"(?:^|/)(?:\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.netrc|\.git-credentials|\.env|"
    r"id_rsa|id_ed25519|id_ecdsa|shadow|passwd|sudoers|credentials|\.bash_history)(?:$|/)"
)
_DEV_BLOCK = re2.compile(r"^/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|disk|rdisk|md|dm-|loop|mapper/)")
_DEV_NET = re2.compile(r"/dev/(?:tcp|udp)/")
_FORK_BOMB = re2.compile(r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:")
_JUDGED_NAMES = (
    "rm|mkfs|mke2fs|mkswap|wipefs|fdisk|sfdisk|parted|sgdisk|dd|shred|chmod|chown|chgrp|nc|"
    "ncat|netcat|socat|curl|wget|fetch|aria2c|lwp-download|scp|rsync|shutdown|reboot|"
    "halt|poweroff|init|kill|pkill|killall|crontab|history|iptables|ip6tables|nft|eval|sh|"
    "bash|zsh|dash|ksh|fish|ash|busybox|csh|tcsh|python[0-9.]*|perl|ruby|node|php|lua|"
    "powershell|pwsh|find|mv|truncate|tee|base64|base32|xxd|gunzip|zcat|uudecode|openssl|"
    "su|watch|unlink"
)
# A redirect is judged only when a file it could write to a system or login file is named
# (``> /etc/passwd``, ``>> ~/.ssh/authorized_keys``); ``ls > out.txt`` is not parsed.
_WRITE_HINTS = ("/etc/", "authorized_keys", ".bashrc", ".bash_profile", ".profile", ".zshrc")
_WRITE_HINTS_RE = "|".join(re2.escape(h) for h in _WRITE_HINTS)
_INTERESTING = Pattern(
    rf"(?i:(?:^|[^A-Za-z0-9_-])(?:{_JUDGED_NAMES})(?:$|[^A-Za-z0-9_-]))|/dev/|:\s*\(|\$\(|[`'\"\\]"
    rf"|>.*(?:{_WRITE_HINTS_RE})"
)
_SUBSTITUTION = re2.compile(r"\$\(([^()]*)\)|`([^`]*)`|<\(([^()]*)\)")


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str
    severity: Severity
    detail: str


def _program(token: str) -> str:
    return posixpath.basename(token).lower()


def _tokenize(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        # Unbalanced quotes: a shell would refuse it, but judge the words anyway (fail
        # closed rather than wave through a command we could not fully parse).
        return command.replace("|", " | ").replace(";", " ; ").replace("&&", " && ").split()


def _split_commands(tokens: list[str]) -> list[tuple[list[str], str]]:
    """Simple commands with the operator that follows each one."""
    commands: list[tuple[list[str], str]] = []
    current: list[str] = []
    for token in tokens:
        if token in _OPERATORS:
            if current:
                commands.append((current, token))
            current = []
        else:
            current.append(token)
    if current:
        commands.append((current, ""))
    return commands[:MAX_COMMANDS]


def _peel(words: list[str]) -> list[str]:
    """Drop wrappers (``sudo -u x``, ``env A=1``, ``nohup``) and leading assignments."""
    i = 0
    while i < len(words):
        word = words[i]
        name = _program(word)
        if "=" in word and not word.startswith(("-", "=")) and word.split("=", 1)[0].isidentifier():
            i += 1
        elif name in _WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in _VALUE_FLAGS.get(name, _DEFAULT_VALUE_FLAGS) else 1
            i += _WRAPPER_POSITIONALS.get(name, 0)
        else:
            break
    return words[i:]


def _flags(args: list[str]) -> set[str]:
    flags: set[str] = set()
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--"):
            flags.add(arg)
        elif arg.startswith("-") and len(arg) > 1:
            flags.update(f"-{c}" for c in arg[1:])
    return flags


def _is_system_target(arg: str) -> bool:
    if arg in ("*", ".", "..", "~", "~/", "$HOME", "${HOME}", "/*", "~/*", "$HOME/*"):
        return True
    if not arg.startswith("/"):
        return False
    normal = posixpath.normpath(arg.rstrip("*")) if arg.rstrip("*") else "/"
    return normal in _SYSTEM_DIRS or normal.rstrip("/") in _SYSTEM_DIRS


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-") or a == "-"]


def _judge(words: list[str], redirects: list[tuple[str, str]]) -> list[_Hit]:
    hits: list[_Hit] = []
    name = _program(words[0])
    args = words[1:]
    flags = _flags(args)
    targets = _positional(args)
    if name == "rm":
        recursive = bool(flags & {"-r", "-R", "--recursive"})
        if "--no-preserve-root" in flags or (recursive and any(map(_is_system_target, targets))):
            hits.append(
                _Hit(
                    "rm_recursive_root",
                    Severity.CRITICAL,
                    "recursive delete of a root, home or system directory",
                )
            )
        elif recursive and flags & {"-f", "--force"}:
            hits.append(_Hit("rm_recursive", Severity.HIGH, "forced recursive delete"))
        hits.extend(_file_write_hits(name, targets, "delete_system_file"))
    elif name.startswith(("mkfs", "mke2fs", "mkswap", "wipefs")) or (
        name in ("fdisk", "sfdisk", "parted", "sgdisk") and any(_DEV_BLOCK.search(a) for a in args)
    ):
        hits.append(_Hit("format_disk", Severity.CRITICAL, f"`{name}` formats or repartitions"))
    elif name == "dd":
        for arg in args:
            if arg.startswith("of=") and (_DEV_BLOCK.search(arg[3:]) or arg[3:] in _SYSTEM_DIRS):
                hits.append(_Hit("dd_to_device", Severity.CRITICAL, "dd writes to a block device"))
    elif name == "shred" and any(_DEV_BLOCK.search(a) or _SENSITIVE_FILES.search(a) for a in args):
        hits.append(_Hit("shred_device", Severity.CRITICAL, "shred of a device or key file"))
    elif name in ("chmod", "chown", "chgrp"):
        modes = [a for a in targets if a.lstrip("0") in ("777", "666") or a in ("a+rwx", "o+w",
                 "a+w", "ugo+rwx", "o+rwx")]  # fmt: skip
        system = [a for a in targets if _is_system_target(a)]
        recursive = bool(flags & {"-R", "--recursive"})
        if system and (modes or (name != "chmod" and recursive)):
            hits.append(
                _Hit("chmod_system", Severity.CRITICAL, f"`{name}` opens up a system directory")
            )
        elif modes:
            hits.append(_Hit("chmod_world_writable", Severity.MEDIUM, "world-writable mode"))
    elif name in ("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd") and (
        flags & {"-e", "-c", "--exec", "--sh-exec"}
    ):
        hits.append(_Hit("reverse_shell", Severity.CRITICAL, f"`{name}` with program execution"))
    elif name == "socat" and any(a.lower().startswith(("exec:", "system:")) for a in args):
        hits.append(_Hit("reverse_shell", Severity.CRITICAL, "socat executing a program"))
    elif name in _DOWNLOADERS:
        for i, arg in enumerate(args):
            value = arg
            if arg in _UPLOAD_FLAGS and i + 1 < len(args):
                value = args[i + 1]
            elif not arg.startswith(("-d@", "--data=@", "--post-file=")):
                continue
            payload = value.split("@", 1)[-1] if "@" in value else value
            if _SENSITIVE_FILES.search(payload) or payload.startswith(("/etc/", "~/.", "/root/")):
                hits.append(
                    _Hit("exfiltration", Severity.HIGH, f"`{name}` uploads a sensitive file")
                )
                break
    elif (
        name in ("scp", "rsync")
        and any(_SENSITIVE_FILES.search(a) for a in targets[:-1])
        and (targets and ":" in targets[-1])
    ):
        hits.append(_Hit("exfiltration", Severity.HIGH, f"`{name}` copies a key file off-host"))
    elif name == "unlink":
        hits.extend(_file_write_hits(name, targets, "delete_system_file"))
    elif name == "find":
        roots = _find_roots(args)
        if "-delete" in args and any(map(_is_system_target, roots)):
            hits.append(
                _Hit(
                    "find_delete_system", Severity.CRITICAL, "find deletes under a system directory"
                )
            )
    elif name == "mv" and any(_is_system_dir(a) for a in targets[:-1]):
        hits.append(_Hit("move_system_dir", Severity.CRITICAL, "moves a system directory away"))
    elif name in ("truncate", "tee"):
        hits.extend(_file_write_hits(name, targets))
    elif name in ("shutdown", "reboot", "halt", "poweroff") or (
        name == "init" and targets[:1] in (["0"], ["6"])
    ):
        hits.append(_Hit("system_disruption", Severity.HIGH, f"`{name}` stops the machine"))
    elif name in ("kill", "pkill", "killall") and ("-1" in targets or "1" in targets):
        hits.append(_Hit("system_disruption", Severity.HIGH, "kills every process"))
    elif name == "crontab" and "-r" in flags:
        hits.append(_Hit("system_disruption", Severity.MEDIUM, "removes every cron job"))
    elif name == "history" and "-c" in flags:
        hits.append(_Hit("anti_forensics", Severity.MEDIUM, "clears shell history"))
    elif name in ("iptables", "ip6tables", "nft") and flags & {"-F", "--flush"}:
        hits.append(_Hit("firewall_flush", Severity.HIGH, "flushes firewall rules"))
    for op, target in redirects:
        if op in (">", ">>", ">|", "&>", "&>>"):
            if _DEV_BLOCK.search(target):
                hits.append(
                    _Hit("write_to_device", Severity.CRITICAL, "output redirected to a disk")
                )
            hits.extend(_file_write_hits("redirect", [target]))
    return hits


def _is_system_dir(arg: str) -> bool:
    """A system directory itself (``/etc``, ``/usr/``), not a file in it or a glob."""
    if arg in ("~", "~/", "$HOME", "${HOME}"):
        return True
    return arg.startswith("/") and posixpath.normpath(arg) in _SYSTEM_DIRS


def _file_write_hits(
    how: str, targets: list[str], system_kind: str = "overwrite_system_file"
) -> list[_Hit]:
    """Writing to (or deleting) files that run the system (accounts, sudoers, cron, the
    loader) or that a login reads (``authorized_keys``, shell profiles: a back door)."""
    hits: list[_Hit] = []
    for target in targets:
        path = posixpath.normpath(target) if target.startswith("/") else target
        if _SYSTEM_FILES.search(path):
            hits.append(_Hit(system_kind, Severity.HIGH, f"{how} on `{path}`"))
        elif system_kind == "overwrite_system_file" and _PERSISTENCE_FILES.search(path):
            hits.append(_Hit("persistence", Severity.HIGH, f"{how} writes `{path}`"))
    return hits


def _find_roots(args: list[str]) -> list[str]:
    """The starting points of ``find``: the arguments before its first expression."""
    roots: list[str] = []
    for arg in args:
        if arg.startswith("-") or arg in ("(", "!", ")"):
            break
        roots.append(arg)
    return roots or ["."]


_MAX_FIND_ROOTS = 4


def _find_exec_commands(args: list[str]) -> list[list[str]]:
    """What ``find ... -exec CMD {} ;`` runs, with ``{}`` read as a starting point: system
    directories first, at most ``_MAX_FIND_ROOTS`` of them, so a ``find`` with thousands
    of roots (nested three deep) cannot multiply the work."""
    roots = sorted(set(_find_roots(args)), key=lambda r: (not _is_system_target(r), r))
    roots = roots[:_MAX_FIND_ROOTS]
    commands: list[list[str]] = []
    for i, arg in enumerate(args):
        if arg not in ("-exec", "-execdir", "-ok", "-okdir"):
            continue
        body: list[str] = []
        for word in args[i + 1 :]:
            if word in (";", "+", "\\;"):
                break
            body.append(word)
        for root in roots:
            if body:
                commands.append([root if w == "{}" else w for w in body])
    return commands


def _shell_body_index(words: list[str]) -> int:
    """Index of the command string a shell runs with ``-c`` (``bash -lc``, ``sh -ec``,
    ``bash --login -c``, ``su root -c``), or 0 when it runs none."""
    for i, word in enumerate(words[1:], start=1):
        if word == "--":
            return 0
        if word in ("-c", "--command") or (
            word.startswith("-") and not word.startswith("--") and "c" in word[1:]
        ):
            return i + 1 if i + 1 < len(words) else 0
        if not word.startswith("-") and _program(words[0]) != "su":
            return 0  # a script file: nothing inline to read
    return 0


_ANSI_C_SIMPLE = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


def _decode_ansi_c(body: str) -> str:
    """The value of a bash ``$'...'`` string: ``$'\\x72\\x6d'`` is ``rm``."""
    simple = _ANSI_C_SIMPLE
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        code = body[i + 1]
        i += 2
        if code in simple:
            out.append(simple[code])
            continue
        width, base = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}.get(code, (0, 0))
        if width:
            digits = ""
            while i < len(body) and len(digits) < width and body[i] in "0123456789abcdefABCDEF":
                digits += body[i]
                i += 1
            value = int(digits, base) if digits else None
        elif code in "01234567":
            digits = code
            while i < len(body) and len(digits) < 3 and body[i] in "01234567":
                digits += body[i]
                i += 1
            value = int(digits, 8)
        elif code == "c" and i < len(body):
            value = ord(body[i]) & 0x1F
            i += 1
        else:
            out.append("\\" + code)
            continue
        if value is None:
            out.append("\\" + code)
        elif value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
            out.append(chr(value))
    return "".join(out)


def _expand_ansi_c(command: str) -> str:
    """``command`` with every ``$'...'`` string replaced by its value, quoted for shlex,
    so ``$'\\x72\\x6d' -rf /`` is judged as ``rm -rf /``."""
    if "$'" not in command:
        return command
    out: list[str] = []
    i = 0
    while True:
        start = command.find("$'", i)
        if start < 0:
            out.append(command[i:])
            return "".join(out)
        j = start + 2
        while j < len(command) and command[j] != "'":
            j += 2 if command[j] == "\\" else 1
        if j >= len(command):
            out.append(command[i:])
            return "".join(out)
        out.append(command[i:start])
        out.append(shlex.quote(_decode_ansi_c(command[start + 2 : j])))
        i = j + 1


def _code_commands(code: str) -> list[str]:
    """Shell commands inside interpreter code that shells out: its string literals."""
    if not _SHELL_OUT.search(code):
        return []
    found: list[str] = []
    for match in _LITERAL.finditer(code):
        literal = next((g for g in match.groups() if g is not None), "")
        if literal.strip():
            found.append(literal)
    return found


def _decodes(name: str, args: list[str]) -> bool:
    """Whether this decoder invocation decodes (``base64 -d``, ``xxd -r``, ``gunzip``)."""
    if name in ("base64", "base32"):
        return bool({"-d", "-D", "--decode"} & set(args)) or any(
            a.startswith("-") and not a.startswith("--") and "d" in a for a in args
        )
    if name == "xxd":
        return any(a.startswith("-") and "r" in a for a in args)
    if name == "openssl":
        return "-d" in args  # `openssl base64 -d`, `openssl enc -d ...`; without it, it encodes
    return name in ("gunzip", "zcat", "uudecode")


def _analyse(command: str, depth: int) -> list[_Hit]:
    hits: list[_Hit] = []
    command = _expand_ansi_c(command)
    if _FORK_BOMB.search(command):
        hits.append(_Hit("fork_bomb", Severity.CRITICAL, "shell fork bomb"))
    if _DEV_NET.search(command):
        hits.append(_Hit("reverse_shell", Severity.CRITICAL, "shell redirected to /dev/tcp"))
    if depth < MAX_DEPTH:
        for match in _SUBSTITUTION.finditer(command):
            inner = next(g for g in match.groups() if g is not None)
            hits.extend(_analyse(inner, depth + 1))
    commands = _split_commands(_tokenize(command))
    pipeline_has_download = False
    pipeline_has_decode = False
    downloaded: set[str] = set()
    for words_raw, operator in commands:
        redirects: list[tuple[str, str]] = []
        words: list[str] = []
        i = 0
        while i < len(words_raw):
            word = words_raw[i]
            if word in _REDIRECTS or (word[:-1].isdigit() and word[-1:] in "<>"):
                if i + 1 < len(words_raw):
                    redirects.append((word.lstrip("0123456789") or word, words_raw[i + 1]))
                i += 2
                continue
            words.append(word)
            i += 1
        words = _peel(words)
        if not words:
            continue
        name = _program(words[0])
        hits.extend(_judge(words, redirects))
        if name in _INTERPRETERS and pipeline_has_download:
            hits.append(
                _Hit(
                    "download_and_execute",
                    Severity.CRITICAL,
                    f"downloaded content piped into `{name}`",
                )
            )
        if name in _INTERPRETERS and pipeline_has_decode:
            hits.append(
                _Hit("decode_and_execute", Severity.CRITICAL, f"decoded data piped into `{name}`")
            )
        if name in _DOWNLOADERS:
            pipeline_has_download = True
        if name in _DECODERS and _decodes(name, words[1:]):
            pipeline_has_decode = True
        if depth < MAX_DEPTH:
            hits.extend(_nested(name, words, depth))
        if name in _DOWNLOADERS:
            for flag, value in itertools.pairwise(words[1:]):
                if flag in ("-o", "-O", "--output", "--output-document"):
                    downloaded.add(posixpath.basename(value))
        elif downloaded and (
            (name in _INTERPRETERS and any(posixpath.basename(a) in downloaded for a in words[1:]))
            or posixpath.basename(words[0]) in downloaded
        ):
            hits.append(_Hit("download_and_execute", Severity.CRITICAL, "runs a file it just "
                             "downloaded"))  # fmt: skip
        if operator not in ("|", "|&"):
            pipeline_has_download = False
            pipeline_has_decode = False
    return hits


def _nested(name: str, words: list[str], depth: int) -> list[_Hit]:
    """Commands a command runs: a shell's ``-c`` string, ``eval``/``watch`` arguments,
    ``find -exec``, and shell-outs in interpreter code."""
    hits: list[_Hit] = []
    body = ""
    if name in _SHELLS or name == "su":
        index = _shell_body_index(words)
        body = words[index] if index else ""
    elif name in _JOINING_RUNNERS:
        rest = words[1:]
        while name == "watch" and rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in ("-n", "--interval", "-d") and len(rest) > 1 else rest[1:]
        body = " ".join(rest)
    elif name == "find":
        for command in _find_exec_commands(words[1:]):
            hits.extend(_analyse(shlex.join(command), depth + 1))
    elif name in _INTERPRETERS:
        for i, word in enumerate(words[1:-1], start=1):
            if word in _CODE_FLAGS:
                code = words[i + 1]
                for literal in _code_commands(code):
                    hits.extend(_analyse(literal, depth + 1))
                for match in _RMTREE.finditer(code):
                    if _is_system_target(match.group(1)):
                        hits.append(_Hit("rm_recursive_root", Severity.CRITICAL,
                                         "recursive delete of a system directory"))  # fmt: skip
                break
    if body:
        hits.extend(_analyse(body, depth + 1))
        substitutes = "$(" in body or "`" in body
        if (
            name != "eval"
            and substitutes
            and "|" not in body
            and any(d in body for d in _DOWNLOADERS)
        ):
            hits.append(_Hit("download_and_execute", Severity.CRITICAL,
                             "shell runs downloaded content"))  # fmt: skip
        if substitutes and any(
            _program(w) in _DECODERS and _decodes(_program(w), body.split()[k + 1 :])
            for k, w in enumerate(body.replace("$(", " ").replace("`", " ").split())
        ):
            hits.append(_Hit("decode_and_execute", Severity.CRITICAL,
                             "runs the output of a decoder as a command"))  # fmt: skip
    return hits


def _process_substitution_download(command: str) -> bool:
    """``bash <(curl …)``: a shell reading a downloader's output as a file."""
    for match in _SUBSTITUTION.finditer(command):
        inner = match.group(3)
        if inner is not None and any(_program(w) in _DOWNLOADERS for w in inner.split()[:1]):
            before = command[: match.start()].split()
            if before and _program(before[-1]) in _INTERPRETERS:
                return True
    return False


# For the pre-check below: each ASCII byte mapped to itself lowercased if it can be part
# of a program name ([A-Za-z0-9_-]), to NUL if it is one of the marks `_INTERESTING` also
# looks for (quotes, backslash, ``$`` of substitution, ``:`` of a fork bomb), else to a
# space. One C-level pass over the bytes then answers every question.
_MARK_CHARS = "`'\"\\$:"
_WORDS_TABLE = bytes(
    0
    if chr(b) in _MARK_CHARS
    else ord(chr(b).lower())
    if b < 128 and (chr(b).isalnum() or chr(b) in "_-")
    else 32
    for b in range(256)
)
# Every judged name but the ``python[0-9.]*`` pattern, which is tested as a substring.
_NAME_SET = frozenset(
    name.encode("ascii") for name in _JUDGED_NAMES.split("|") if not name.startswith("python")
)


def may_be_command(text: str) -> bool:
    """A necessary condition for :func:`scan_command` to find anything, for ASCII text in a
    few string operations (any other text answers ``True``): ``False`` proves nothing
    would be parsed. It mirrors ``_INTERESTING``: a mark (quote, backslash, ``$``, ``:``,
    ``/dev/``, a ``>`` with a system or login file named), or a word (a run of
    ``[A-Za-z0-9_-]``) that is a judged program name in any case (``python`` with any
    suffix, conservatively). A property test checks it against the pattern.
    """
    if not text.isascii() or "/dev/" in text:
        return True
    if ">" in text and any(hint in text for hint in _WRITE_HINTS):
        return True
    mapped = text.encode("ascii").translate(_WORDS_TABLE)
    if b"\0" in mapped or b"python" in mapped:
        return True
    return not _NAME_SET.isdisjoint(mapped.split())


def _worth_parsing(text: str) -> bool:
    """Cheap pre-check: parse only text that names a program we judge, or that uses
    quoting, escapes or substitution (which could assemble such a name: ``r''m``)."""
    return _INTERESTING.search(text)


def scan_command(text: str) -> list[Finding]:
    """Judge ``text`` as a shell command line; one finding per distinct danger."""
    if len(text) > MAX_COMMAND_CHARS:
        text = text[:MAX_COMMAND_CHARS]
    if not text.isascii():
        text = encodable(text)  # the parsed words meet plain RE2 patterns too
    # may_be_command first: the same answer as the RE2 pre-check wherever it says no, in
    # plain string operations that keep the GIL (the binding releases it on every call,
    # which costs a thread switch whenever another thread, such as the audit writer, is
    # busy).
    if not (may_be_command(text) and _worth_parsing(text)):
        return []
    hits = _analyse(text, 0)
    if _process_substitution_download(text):
        hits.append(_Hit("download_and_execute", Severity.CRITICAL, "shell runs downloaded "
                         "content"))  # fmt: skip
    findings: list[Finding] = []
    seen: set[str] = set()
    for hit in sorted(hits, key=lambda h: -h.severity):
        if hit.kind in seen:
            continue
        seen.add(hit.kind)
        findings.append(
            Finding(
                type=FindingType.DANGEROUS_COMMAND,
                kind=hit.kind,
                severity=hit.severity,
                confidence=0.9,
                span=Span(0, len(text)),
                detail=hit.detail,
            )
        )
    return findings
