"""The simulated agent (cockpit-sim) writes what the real Claude Code writes, where it writes it.

Interactive tests run it in a real pane of a private tmux server; nothing here reads or writes the
real ~/.claude: every process gets a temp HOME and CLAUDE_CONFIG_DIR.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cockpit.claude_paths import (
    java_string_hash,
    live_session_path,
    project_slug,
    transcript_path,
)
from cockpit.observe.procs import proc_start_ticks

try:
    from tests.realclaude import PrivateTmux, read_json, read_jsonl, wait_for
except ImportError:  # tests/ is not importable as a package: it is on sys.path itself
    from realclaude import PrivateTmux, read_json, read_jsonl, wait_for

SIM = [sys.executable, "-m", "cockpit.sim"]
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
COMMON = ("uuid", "parentUuid", "sessionId", "timestamp", "cwd", "version", "gitBranch", "isSidechain", "userType")

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def simenv(tmp_path: Path) -> dict:
    home = tmp_path / "home"
    cfg = tmp_path / "claude-config"
    cwd = tmp_path / "work dir" / "my.proj_x"  # spaces and dots: the slug must handle them
    for d in (home, cfg, cwd):
        d.mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(cfg),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "PYTHONUNBUFFERED": "1",
    }
    return {"home": home, "cfg": cfg, "cwd": str(cwd), "env": env}


@pytest.fixture
def tmux(simenv: dict):
    server = PrivateTmux({"PATH": simenv["env"]["PATH"], "HOME": str(simenv["home"]), "TERM": "xterm-256color",
                          "LANG": "C.UTF-8"})
    try:
        yield server
    finally:
        server.kill()


def _spawn(tmux: PrivateTmux, simenv: dict, *args: str) -> tuple[str, int]:
    pane = tmux.spawn([*SIM, *args], cwd=simenv["cwd"], env=simenv["env"])
    return pane, tmux.pane_pid(pane)


def _live(simenv: dict, pid: int) -> dict | None:
    return read_json(live_session_path(simenv["cfg"], pid))


def _wait_live(simenv: dict, pid: int, timeout: float = 10.0, **match) -> dict:
    def ok():
        data = _live(simenv, pid)
        if data and all(data.get(k) == v for k, v in match.items()):
            return data
        return None

    return wait_for(ok, timeout, message=f"live-session file of {pid} with {match}")


def _run(simenv: dict, *args: str, input: bytes | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([*SIM, *args], cwd=simenv["cwd"], env=simenv["env"], input=input,
                          capture_output=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as s:
            s.settimeout(1.0)
            return s.recv(100).startswith(b"cockpit-sim")
    except OSError:
        return False


def _assert_real_format(rec: dict, session_id: str, cwd: str) -> None:
    for key in COMMON:
        assert key in rec, (key, rec)
    assert rec["sessionId"] == session_id
    assert rec["cwd"] == cwd
    assert rec["isSidechain"] is False
    assert rec["userType"] == "external"
    assert ISO_Z.match(rec["timestamp"]), rec["timestamp"]
    assert rec["version"].endswith("-sim")
    uuid.UUID(rec["uuid"])


# ---------------------------------------------------------------------------------------------
# claude_paths


@pytest.mark.parametrize(
    "cwd, slug",
    [
        ("/home/a/my.proj_x", "-home-a-my-proj-x"),
        ("/", "-"),
        ("/tmp/exp/proj2", "-tmp-exp-proj2"),
        ("/srv/Ünïcode dir/a b", "-srv--n-code-dir-a-b"),
        ("/x/🎉", "-x---"),  # outside the BMP: two UTF-16 code units, two dashes (as in JavaScript)
        ("C:\\Users\\me", "C--Users-me"),
    ],
)
def test_project_slug_cases(cwd: str, slug: str) -> None:
    assert project_slug(cwd) == slug


def test_project_slug_long_path_is_cut_and_hashed() -> None:
    cwd = "/very/long/" + "segment.name_" * 30
    slug = project_slug(cwd)
    expected_hash = abs(java_string_hash(cwd))
    head, _, tail = slug[:200], slug[200], slug[201:]
    assert slug[200] == "-"
    assert head == re.sub(r"[^A-Za-z0-9]", "-", cwd)[:200]
    assert int(tail, 36) == expected_hash
    assert project_slug("/" + "a" * 199) == "-" + "a" * 199  # exactly 200: not cut
    assert len(project_slug("/" + "a" * 200)) > 201


def test_java_string_hash_known_values() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322  # Java's "hello".hashCode()
    assert java_string_hash("polygenelubricants") == -2147483648  # the famous MIN_VALUE


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_project_slug_matches_claude_code_javascript() -> None:
    """The exact functions from Claude Code 2.1.197's bundle, run by node, agree with ours."""
    js = r"""
    function jCe(e){let t=0;for(let n=0;n<e.length;n++)t=(t<<5)-t+e.charCodeAt(n)|0;return t}
    function $E(e){let t=e.replace(/[^a-zA-Z0-9]/g,"-");if(t.length<=200)return t;
                   return `${t.slice(0,200)}-${Math.abs(jCe(e)).toString(36)}`}
    const inp = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.stdout.write(JSON.stringify(inp.map($E)));
    """
    cases = ["/home/a/my.proj_x", "/x/🎉/y", "/" + "é" * 250, "/tmp/" + "deep/" * 60 + "🎉", "/a" * 101,
             "/" + "z" * 300 + "polygenelubricants"]
    out = subprocess.run(["node", "-e", js], input=json.dumps(cases), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [project_slug(c) for c in cases]


def test_paths(tmp_path: Path) -> None:
    assert transcript_path(tmp_path, "/home/a/my.proj_x", "abc") == tmp_path / "projects" / "-home-a-my-proj-x" / "abc.jsonl"
    assert live_session_path(tmp_path, 1234) == tmp_path / "sessions" / "1234.json"


def test_proc_start_ticks_with_parens_and_spaces_in_comm(tmp_path: Path) -> None:
    weird = tmp_path / "a) b (c) d"
    weird.symlink_to(shutil.which("sleep") or "/bin/sleep")
    proc = subprocess.Popen([str(weird), "30"])
    try:
        stat = wait_for(lambda: Path(f"/proc/{proc.pid}/stat").read_text(), message="/proc stat")
        wait_for(lambda: ") d)" in Path(f"/proc/{proc.pid}/stat").read_text(), message="comm is set after exec")
        ticks = proc_start_ticks(proc.pid)
        assert isinstance(ticks, int) and ticks > 0
        # Independent check: boot time + ticks / CLK_TCK is when the process started.
        import psutil

        started = psutil.boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        assert abs(started - psutil.Process(proc.pid).create_time()) < 1.0, stat
        assert proc_start_ticks(os.getpid()) != ticks or proc.pid == os.getpid()
    finally:
        proc.kill()
        proc.wait()
    assert proc_start_ticks(proc.pid) is None
    assert proc_start_ticks(2**31 - 1) is None


# ---------------------------------------------------------------------------------------------
# interactive, in a private tmux pane


def test_typed_line_makes_a_real_format_turn(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane, pid = _spawn(tmux, simenv, "--session-id", sid, "--name", "alpha", "--reply-delay-s", "1.0")
    live = _wait_live(simenv, pid, status="idle")
    assert live["pid"] == pid
    assert live["procStart"] == str(proc_start_ticks(pid))
    assert live["sessionId"] == sid
    assert live["cwd"] == simenv["cwd"]
    assert live["kind"] == "interactive" and live["entrypoint"] == "cli"
    assert live["tmux"] == pane
    assert live["name"] == "alpha"
    assert isinstance(live["startedAt"], int) and isinstance(live["updatedAt"], int)
    wait_for(lambda: "> " in tmux.capture(pane), message="the prompt")
    transcript = transcript_path(simenv["cfg"], simenv["cwd"], sid)
    assert not transcript.exists()  # like the real CLI: created at the first turn

    tmux.send_line(pane, "fix the tests please")
    _wait_live(simenv, pid, timeout=5, status="busy")
    _wait_live(simenv, pid, timeout=5, status="idle")
    screen = wait_for(lambda: (s := tmux.capture(pane)) and "You said: fix the tests please" in s and s,
                      message="the reply on screen")
    assert "● (sim) You said: fix the tests please" in screen

    recs = read_jsonl(transcript)
    turns = [r for r in recs if r.get("type") in ("user", "assistant", "system")]
    assert [(r["type"], r.get("subtype")) for r in turns] == [("user", None), ("assistant", None),
                                                               ("system", "turn_duration")]
    user, assistant, duration = turns
    for rec in turns:
        _assert_real_format(rec, sid, simenv["cwd"])
    assert user["parentUuid"] is None
    assert assistant["parentUuid"] == user["uuid"] and duration["parentUuid"] == assistant["uuid"]
    assert user["message"] == {"role": "user", "content": "fix the tests please"}
    msg = assistant["message"]
    assert msg["role"] == "assistant" and msg["model"] == "claude-sim" and msg["id"].startswith("msg_")
    assert msg["content"] == [{"type": "text", "text": "(sim) You said: fix the tests please"}]
    assert {"input_tokens", "output_tokens"} <= set(msg["usage"])
    assert duration["durationMs"] >= 1000
    # bookkeeping lines without timestamp are there too, so readers must not rely on the last line
    assert any(r.get("type") == "permission-mode" and "timestamp" not in r for r in recs)

    tmux.send_line(pane, "/exit")
    wait_for(lambda: tmux.dead_status(pane) is not None, message="clean exit")
    assert tmux.dead_status(pane) == 0
    assert _live(simenv, pid) is None
    assert not live_session_path(simenv["cfg"], pid).exists()
    last = read_jsonl(transcript)[-1]
    assert last["type"] == "last-prompt" and "timestamp" not in last and last["sessionId"] == sid
    assert f"--resume {sid}" in tmux.capture(pane)


@pytest.mark.parametrize("how, status", [("SIGTERM", 143), ("SIGHUP", 129), ("EOF", 0)])
def test_clean_exit_removes_live_file(tmux: PrivateTmux, simenv: dict, how: str, status: int) -> None:
    pane, pid = _spawn(tmux, simenv)
    _wait_live(simenv, pid, status="idle")
    if how == "EOF":
        wait_for(lambda: "> " in tmux.capture(pane), message="the prompt")
        tmux.tmux("send-keys", "-t", pane, "C-d")
    else:
        os.kill(pid, getattr(signal, how))
    wait_for(lambda: tmux.dead_status(pane) is not None, message="exit")
    assert tmux.dead_status(pane) == status
    assert not live_session_path(simenv["cfg"], pid).exists()
    assert list((simenv["cfg"] / "sessions").iterdir()) == []  # no temp files left behind


def test_kill_window_hangs_up_and_cleans(tmux: PrivateTmux, simenv: dict) -> None:
    pane, pid = _spawn(tmux, simenv)
    _wait_live(simenv, pid)
    tmux.kill_window(pane)
    wait_for(lambda: not live_session_path(simenv["cfg"], pid).exists(), message="live file removed on SIGHUP")


def test_resume_appends_to_the_same_transcript(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane, pid = _spawn(tmux, simenv, "--session-id", sid, "--reply-delay-s", "0")
    _wait_live(simenv, pid)
    tmux.send_line(pane, "first prompt")
    transcript = transcript_path(simenv["cfg"], simenv["cwd"], sid)
    wait_for(lambda: any(r.get("subtype") == "turn_duration" for r in read_jsonl(transcript)), message="turn 1")
    tmux.send_line(pane, "/exit")
    wait_for(lambda: tmux.dead_status(pane) == 0, message="exit 0")
    first = read_jsonl(transcript)
    last_uuid = [r for r in first if "uuid" in r][-1]["uuid"]

    # --session-id of an id whose transcript exists is refused, as by the real CLI
    refused = _run(simenv, "--session-id", sid)
    assert refused.returncode == 1 and f"Session ID {sid} is already in use" in refused.stderr.decode()

    pane2, pid2 = _spawn(tmux, simenv, "--resume", sid, "--reply-delay-s", "0")
    live = _wait_live(simenv, pid2)
    assert live["sessionId"] == sid
    tmux.send_line(pane2, "second prompt")
    wait_for(lambda: sum(r.get("subtype") == "turn_duration" for r in read_jsonl(transcript)) == 2, message="turn 2")
    tmux.send_line(pane2, "/exit")
    wait_for(lambda: tmux.dead_status(pane2) == 0, message="exit 0")

    recs = read_jsonl(transcript)
    assert recs[: len(first)] == first  # appended, nothing rewritten
    users = [r for r in recs if r.get("type") == "user"]
    assert [u["message"]["content"] for u in users] == ["first prompt", "second prompt"]
    assert {r["sessionId"] for r in recs if "sessionId" in r} == {sid}
    assert users[1]["parentUuid"] == last_uuid  # the chain continues across the resume
    assert sorted(p.name for p in transcript.parent.glob("*.jsonl")) == [f"{sid}.jsonl"]


def test_resume_unknown_id_prints_the_real_message(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane = tmux.spawn([*SIM, "--resume", sid], cwd=simenv["cwd"], env=simenv["env"])
    wait_for(lambda: tmux.dead_status(pane) is not None, message="exit")
    assert tmux.dead_status(pane) == 1
    assert f"No conversation found with session ID: {sid}" in tmux.capture(pane)
    assert not (simenv["cfg"] / "sessions").exists() or not list((simenv["cfg"] / "sessions").iterdir())
    # A transcript of that id in ANOTHER project folder does not count (the real CLI agrees).
    other = transcript_path(simenv["cfg"], "/somewhere/else", sid)
    other.parent.mkdir(parents=True)
    other.write_text('{"type":"user","sessionId":"%s"}\n' % sid)
    res = _run(simenv, "--resume", sid)
    assert res.returncode == 1 and f"No conversation found with session ID: {sid}" in res.stderr.decode()


def test_session_id_rules(simenv: dict) -> None:
    res = _run(simenv, "--session-id", str(uuid.uuid4()), "--resume", str(uuid.uuid4()))
    assert res.returncode == 1
    assert "--session-id can only be used with --continue or --resume" in res.stderr.decode()
    res = _run(simenv, "--session-id", "not-a-uuid")
    assert res.returncode == 1 and "Invalid session ID. Must be a valid UUID." in res.stderr.decode()
    res = _run(simenv, "--no-such-flag")
    assert res.returncode == 1 and "error:" in res.stderr.decode()
    assert _run(simenv, "--version").stdout.decode().startswith("2.1.197-sim")


def test_die_after_ms_exits_nonzero_without_binding(tmux: PrivateTmux, simenv: dict) -> None:
    port = _free_port()
    t0 = time.monotonic()
    pane, pid = _spawn(tmux, simenv, "--die-after-ms", "400", "--port", str(port))
    wait_for(lambda: tmux.dead_status(pane) is not None, message="death")
    assert time.monotonic() - t0 >= 0.35
    assert tmux.dead_status(pane) == 1
    assert "simulated startup failure" in tmux.capture(pane)
    assert not _port_open(port)
    assert not live_session_path(simenv["cfg"], pid).exists()


def test_port_binds_and_no_bind_does_not(tmux: PrivateTmux, simenv: dict) -> None:
    port = _free_port()
    pane, pid = _spawn(tmux, simenv, "--port", str(port))
    wait_for(lambda: _port_open(port), message=f"port {port} listening")
    port2 = _free_port()
    pane2, pid2 = _spawn(tmux, simenv, "--port", str(port2), "--no-bind")
    _wait_live(simenv, pid2)
    time.sleep(0.5)
    assert tmux.dead_status(pane2) is None  # alive...
    assert not _port_open(port2)  # ...but not listening
    assert _port_open(port)


def test_crash_after_s_runs_healthy_then_dies(tmux: PrivateTmux, simenv: dict) -> None:
    port = _free_port()
    pane, pid = _spawn(tmux, simenv, "--port", str(port), "--crash-after-s", "1.2")
    wait_for(lambda: _port_open(port), message="healthy first")
    assert tmux.dead_status(pane) is None
    wait_for(lambda: tmux.dead_status(pane) is not None, timeout=10, message="the crash")
    assert tmux.dead_status(pane) == 1
    assert not _port_open(port)
    # A crash does not clean up: the live-session file stays behind, stale, like after kill -9.
    stale = _live(simenv, pid)
    assert stale is not None and stale["pid"] == pid
    assert proc_start_ticks(pid) is None


def test_ignore_input_never_records(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane, pid = _spawn(tmux, simenv, "--session-id", sid, "--ignore-input", "--reply-delay-s", "0")
    _wait_live(simenv, pid)
    tmux.send_line(pane, "wake up and check the build")
    time.sleep(1.0)
    assert _live(simenv, pid)["status"] == "idle"
    assert not transcript_path(simenv["cfg"], simenv["cwd"], sid).exists()
    assert tmux.dead_status(pane) is None


def test_prompt_permission_waits(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane, pid = _spawn(tmux, simenv, "--session-id", sid, "--prompt-permission", "--reply-delay-s", "0")
    live = _wait_live(simenv, pid, status="waiting")
    assert live["waitingFor"] == "permission prompt"
    screen = wait_for(lambda: (s := tmux.capture(pane)) and "Do you want to proceed?" in s and s, message="prompt")
    assert "1. Yes" in screen and "2. No" in screen
    tmux.send_line(pane, "1")
    live = _wait_live(simenv, pid, status="idle")
    assert "waitingFor" not in live
    recs = read_jsonl(transcript_path(simenv["cfg"], simenv["cwd"], sid))
    kinds = []
    for r in recs:
        content = (r.get("message") or {}).get("content")
        if isinstance(content, list):
            kinds += [b.get("type") for b in content]
    assert "tool_use" in kinds and "tool_result" in kinds and kinds[-1] == "text"
    assert recs[-1].get("subtype") == "turn_duration"
    # the next typed turn asks again
    tmux.send_line(pane, "and again")
    _wait_live(simenv, pid, status="waiting")
    tmux.send_line(pane, "2")
    _wait_live(simenv, pid, status="idle")


def test_chat_every_s_makes_turns_by_itself(tmux: PrivateTmux, simenv: dict) -> None:
    sid = str(uuid.uuid4())
    pane, pid = _spawn(tmux, simenv, "--session-id", sid, "--chat-every-s", "0.4", "--reply-delay-s", "0.05")
    transcript = transcript_path(simenv["cfg"], simenv["cwd"], sid)
    wait_for(lambda: sum(r.get("subtype") == "turn_duration" for r in read_jsonl(transcript)) >= 3,
             timeout=10, message="three automatic turns")
    stamps = [r["timestamp"] for r in read_jsonl(transcript) if "timestamp" in r]
    assert stamps == sorted(stamps)


def test_odd_input_never_crashes(simenv: dict) -> None:
    sid = str(uuid.uuid4())
    long_line = b"x" * 300_000
    data = b"\xff\xfe\x80 not utf-8 \xc3\n" + long_line + b"\n" + b"\x1b[31mred\x00nul\n" + b"\n" + b"/exit\n"
    res = _run(simenv, "--session-id", sid, "--reply-delay-s", "0", input=data)
    assert res.returncode == 0, res.stderr
    recs = read_jsonl(transcript_path(simenv["cfg"], simenv["cwd"], sid))
    users = [r["message"]["content"] for r in recs if r.get("type") == "user"]
    assert len(users) == 3
    assert users[0].startswith("\ufffd") and "not utf-8" in users[0]
    assert users[1] == "x" * 300_000
    assert "\x1b" not in res.stdout.decode("utf-8", "replace")  # escape sequences are not echoed raw
    assert not any((simenv["cfg"] / "sessions").iterdir())


def test_unwritable_config_dir_does_not_crash(simenv: dict, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    env = dict(simenv["env"], CLAUDE_CONFIG_DIR=str(blocker))
    res = subprocess.run([*SIM, "-p", "hi", "--output-format", "stream-json", "--reply-delay-s", "0"],
                         cwd=simenv["cwd"], env=env, capture_output=True, timeout=20)
    assert res.returncode == 0
    assert json.loads(res.stdout.decode().splitlines()[-1])["subtype"] == "success"
    assert "cannot write" in res.stderr.decode()


# ---------------------------------------------------------------------------------------------
# print mode


def test_print_stream_json_ends_with_a_result_line(simenv: dict) -> None:
    sid = str(uuid.uuid4())
    res = _run(simenv, "-p", "summarise the repo", "--output-format", "stream-json", "--verbose",
               "--session-id", sid, "--reply-delay-s", "0.1")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert lines[0]["type"] == "system" and lines[0]["subtype"] == "init" and lines[0]["session_id"] == sid
    assert any(line["type"] == "assistant" for line in lines[1:-1])
    result = lines[-1]
    assert result["type"] == "result" and result["subtype"] == "success" and result["is_error"] is False
    assert result["num_turns"] == 1 and result["session_id"] == sid and result["total_cost_usd"] == 0
    assert isinstance(result["duration_ms"], int) and "summarise the repo" in result["result"]
    recs = read_jsonl(transcript_path(simenv["cfg"], simenv["cwd"], sid))
    users = [r for r in recs if r.get("type") == "user"]
    assert users and users[0]["message"]["content"] == "summarise the repo"
    assert users[0]["entrypoint"] == "sdk-cli"
    assert not any((simenv["cfg"] / "sessions").iterdir())  # its live file is gone once it exited


def test_print_result_faults(simenv: dict) -> None:
    res = _run(simenv, "-p", "x", "--output-format", "stream-json", "--result-subtype", "error_max_turns",
               "--result-is-error", "--reply-delay-s", "0")
    result = json.loads(res.stdout.decode().splitlines()[-1])
    assert (result["subtype"], result["is_error"]) == ("error_max_turns", True)
    assert res.returncode == 1
    res = _run(simenv, "-p", "x", "--output-format", "stream-json", "--result-is-error", "--reply-delay-s", "0")
    result = json.loads(res.stdout.decode().splitlines()[-1])
    assert (result["subtype"], result["is_error"]) == ("success", True)  # a failure dressed as success
    res = _run(simenv, "-p", "plain", "--reply-delay-s", "0")
    assert res.stdout.decode().strip() == "(sim) You said: plain"


def _read_line(proc: subprocess.Popen, timeout: float = 10.0) -> dict:
    """The result line, read as soon as it is written (``proc`` must be unbuffered: bufsize=0)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if not line:
                break
            obj = json.loads(line)
            if obj.get("type") == "result":
                return obj
    raise AssertionError("no result line")


def test_linger_ignore_term_spawn_child_need_a_group_kill(simenv: dict) -> None:
    proc = subprocess.Popen([*SIM, "-p", "x", "--output-format", "stream-json", "--reply-delay-s", "0",
                             "--linger-s", "60", "--ignore-term", "--spawn-child"],
                            cwd=simenv["cwd"], env=simenv["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, bufsize=0)
    try:
        assert _read_line(proc)["subtype"] == "success"
        import psutil

        children = wait_for(lambda: psutil.Process(proc.pid).children(), message="the child")
        child = children[0]
        assert os.getpgid(child.pid) == os.getpgid(proc.pid) == proc.pid
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None and child.is_running()  # a wrapper that won't die
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, message="child gone")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def test_linger_then_exits_and_child_is_reaped(simenv: dict) -> None:
    t0 = time.monotonic()
    proc = subprocess.Popen([*SIM, "-p", "x", "--output-format", "stream-json", "--reply-delay-s", "0",
                             "--linger-s", "1", "--spawn-child"],
                            cwd=simenv["cwd"], env=simenv["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)
    assert _read_line(proc)["type"] == "result"
    assert proc.poll() is None
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 >= 1.0
    err = proc.stderr.read().decode()
    child_pid = int(re.search(r"spawned child (\d+)", err).group(1))
    assert proc_start_ticks(child_pid) is None  # a clean exit takes its child along
