"""The OSC bridge spoken to by programs written by others: liblo's oscsend/oscdump and Pure
Data running the shipped bridges/daw/audiogan.pd headless. Each must get /audiogan/done with
the path of a valid WAV of the requested length.

Needs (Debian/Ubuntu): apt-get install liblo-tools puredata-core
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from audiogan_bridges.osc_server import OscServer
from audiogan_core import AudioGAN, preset

PD_PATCH = Path(__file__).resolve().parents[1] / "bridges" / "daw" / "audiogan.pd"

needs_liblo = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")),
                                 reason="liblo's oscsend/oscdump not installed (apt-get install liblo-tools)")
needs_pd = pytest.mark.skipif(not shutil.which("pd"), reason="Pure Data not installed (apt-get install puredata-core)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """Reads a subprocess's output line by line on a thread; wait() for a matching line."""

    def __init__(self, stream):
        self.q: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in iter(stream.readline, ""):
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait(self, pattern: str, timeout: float = 20.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got:\n" + "\n".join(self.seen))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"process ended before {pattern!r}; got:\n" + "\n".join(self.seen))
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m


@pytest.fixture(scope="module")
def model():
    return AudioGAN.from_config(preset("tiny"))


@pytest.fixture
def procs():
    started = []

    def spawn(args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
        started.append(p)
        return p

    yield spawn
    for p in started:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def check_wav(path: str, seconds: float, rate: int, subtype: str) -> None:
    info = sf.info(path)
    assert info.samplerate == rate and info.subtype == subtype and info.channels == 1
    assert info.frames == round(seconds * rate)


@pytest.mark.external
@needs_liblo
def test_liblo_oscsend_and_oscdump(model, tmp_path, procs):
    reply_port = free_udp_port()
    server = OscServer(model, port=0, reply_port=reply_port, out_dir=tmp_path, sample_rate=44100,
                       bit_depth=24).start()
    try:
        dump = Lines(procs(["oscdump", "-L", str(reply_port)]).stdout)
        port = str(server.port)
        # Ping until oscdump is listening (its start-up is not announced).
        deadline = time.monotonic() + 10
        while True:
            subprocess.run(["oscsend", "localhost", port, "/audiogan/ping"], check=True, timeout=5)
            try:
                dump.wait(r"/audiogan/pong", timeout=0.5)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "oscdump never received /audiogan/pong"
        subprocess.run(["oscsend", "localhost", port, "/audiogan/generate", "sif", "a dog barks", "7", "0.2"],
                       check=True, timeout=5)
        job = dump.wait(r"^\S+ /audiogan/accepted i (\d+)$").group(1)
        m = dump.wait(r'/audiogan/done is (\d+) "(.*)"$', timeout=30)
        assert m.group(1) == job
        assert Path(m.group(2)).name == f"{int(job):05d}_a-dog-barks_seed7.wav"
        check_wav(m.group(2), 0.2, 44100, "PCM_24")
        assert any(re.search(rf"/audiogan/progress if {job} 1\.0+$", line) for line in dump.seen)
        # Wrong types from a foreign client are answered, not fatal.
        subprocess.run(["oscsend", "localhost", port, "/audiogan/generate", "i", "7"], check=True, timeout=5)
        m = dump.wait(r'/audiogan/error is -1 "(.*)"$')
        assert m.group(1).startswith("/audiogan/generate: text must be a string (s), got 7 (i)")
        subprocess.run(["oscsend", "localhost", port, "/audiogan/status"], check=True, timeout=5)
        assert dump.wait(r"/audiogan/status iss (\d+) \"(.*)\" \"(.*)\"$").groups() == ("0", "tiny", "cpu")
    finally:
        server.stop()


def run_pd(procs, *messages: str):
    args = ["pd", "-nogui", "-nosound", "-nomidi", "-stderr"]
    for m in messages:
        args += ["-send", m]
    return Lines(procs(args + [str(PD_PATCH)]).stdout)


@pytest.mark.external
@needs_pd
def test_pure_data_patch_replies_through_netsend(model, tmp_path, procs):
    """Plain `audiogan serve`: replies go back to [netsend]'s own socket."""
    server = OscServer(model, port=0, out_dir=tmp_path).start()
    try:
        out = run_pd(procs, f"audiogan-connect 127.0.0.1 {server.port}", "audiogan-listen 0",
                     "audiogan-generate a dog barks 7 0.2")
        m = out.wait(r"audiogan-done: (\d+) (.*\.wav)$", timeout=30)
        assert Path(m.group(2)).name == f"{int(m.group(1)):05d}_a-dog-barks_seed7.wav"
        check_wav(m.group(2), 0.2, model.sample_rate, "PCM_16")
        # The patch loads the file into a table with [soundfiler]: it read every sample.
        assert int(out.wait(r"audiogan-loaded: (\d+)").group(1)) == round(0.2 * model.sample_rate)
    finally:
        server.stop()


@pytest.mark.external
@needs_pd
def test_pure_data_patch_with_reply_port(model, tmp_path, procs):
    """`audiogan serve --reply-port P`: replies reach the patch's [netreceive -u -b]."""
    reply_port = free_udp_port()
    server = OscServer(model, port=0, reply_port=reply_port, out_dir=tmp_path, sample_rate=48000).start()
    try:
        out = run_pd(procs, f"audiogan-listen {reply_port}", f"audiogan-connect 127.0.0.1 {server.port}",
                     "audiogan-status bang", "audiogan-generate rain on a tin roof -1 0.25 2")
        assert out.wait(r"audiogan-other: (\d+) tiny cpu")
        paths = [out.wait(r"audiogan-done: \d+ (.*\.wav)$", timeout=30).group(1) for _ in range(2)]
        for path in paths:
            assert re.fullmatch(r"\d{5}_rain-on-a-tin-roof_seed\d+\.wav", Path(path).name)
            check_wav(path, 0.25, 48000, "PCM_16")
        seeds = [int(re.search(r"seed(\d+)", p).group(1)) for p in paths]
        assert seeds[1] == seeds[0] + 1
    finally:
        server.stop()


LUA_SCRIPT = Path(__file__).resolve().parents[1] / "bridges" / "daw" / "reaper_audiogan.lua"

# Just enough of REAPER's API to run the ReaScript outside REAPER.
MOCK_REAPER = r"""
local M, queue, cache = {}, {}, nil
function M.GetOS() return "Other" end
function M.GetExtState() return "" end
function M.SetExtState() end
function M.GetUserInputs(title, n, captions, defaults)
  assert(captions:find("separator=\n", 1, true))
  return true, os.getenv("AG_ANSWER")
end
function M.ShowMessageBox(msg) print("MESSAGE " .. msg:gsub("\n", " ")) end
function M.time_precise() local p = io.popen("date +%s.%N"); local t = tonumber(p:read("l")); p:close(); return t end
function M.EnumerateFiles(dir, i)
  if i == -1 then cache = nil return nil end
  if not cache then
    cache = {}
    local p = io.popen("ls -1A '" .. dir .. "'")
    for line in p:lines() do cache[#cache + 1] = line end
    p:close()
  end
  return cache[i + 1]
end
local selected = {}
function M.InsertMedia(path, mode)
  print("INSERT " .. mode .. " " .. path)
  local take = { source = { file = path } }
  selected = { { take = take, path = path } }  -- REAPER selects the new item, and only it
end
function M.CountSelectedMediaItems() return #selected end
function M.GetSelectedMediaItem(_, k) return selected[k + 1] end
function M.GetActiveTake(item) return item.take end
function M.GetMediaItemTake_Source(take) return take.source end
function M.GetMediaSourceFileName(source, _) return source.file end
function M.GetSetMediaItemTakeInfo_String(take, key, value, set)
  assert(key == "P_NAME" and set)
  print("TAKENAME " .. take.source.file .. "\t" .. value)
end
function M.GetSetMediaItemInfo_String(item, key, value, set)
  assert(key == "P_NOTES" and set)
  print("NOTES " .. item.path .. "\t" .. value:gsub("\n", "|"))
end
function M.Undo_BeginBlock() end
function M.Undo_EndBlock() end
function M.UpdateArrange() end
function M.defer(f) queue[#queue + 1] = f end
function M.run_deferred()
  while #queue > 0 do
    local f = table.remove(queue, 1)
    os.execute("sleep 0.05")
    f()
  end
end
return M
"""


@pytest.mark.external
@pytest.mark.parametrize("route", ["oscsend", "luasocket"])
@pytest.mark.skipif(not shutil.which("lua5.4"), reason="lua5.4 not installed (apt-get install lua5.4)")
@needs_liblo
def test_reaper_script_with_a_mock_reaper(model, tmp_path, procs, route):
    """The ReaScript's own OSC encoder (LuaSocket) or its oscsend route, its folder watch and
    InsertMedia calls, run by lua5.4 against a stand-in for REAPER's API."""
    has_socket = subprocess.run(["lua5.4", "-e", "require 'socket'"], capture_output=True).returncode == 0
    if route == "luasocket" and not has_socket:
        pytest.skip("LuaSocket not installed (apt-get install lua-socket)")
    out = tmp_path / "out"
    # The script's port is a constant (9000); run it against a copy pointing at a free port.
    server = OscServer(model, port=0, out_dir=out).start()
    try:
        script = LUA_SCRIPT.read_text().replace("local PORT = 9000", f"local PORT = {server.port}")
        if route == "luasocket":  # no fallback: the script's own OSC encoder must do it
            script = script.replace("local OSCSEND = nil", "local OSCSEND = '/nonexistent/oscsend'")
        (tmp_path / "script.lua").write_text(script)
        (tmp_path / "mock.lua").write_text(MOCK_REAPER)
        block = "" if route == "luasocket" else "package.preload.socket = function() error('no socket') end; "
        driver = (f"{block}reaper = dofile('{tmp_path / 'mock.lua'}'); dofile('{tmp_path / 'script.lua'}'); "
                  "reaper.run_deferred()")
        answer = "\n".join(["a dog barks, loudly", "0.2", "41", "2", str(out)])
        env = dict(os.environ, AG_ANSWER=answer)
        proc = subprocess.run(["lua5.4", "-e", driver], env=env, capture_output=True, text=True, timeout=60)
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        inserts = [line.split(" ", 2) for line in lines if line.startswith("INSERT ")]
        assert [m for _, m, _ in inserts] == ["0", "1"], lines
        names = [Path(p).name for _, _, p in inserts]
        assert names == ["00001_a-dog-barks-loudly_seed41.wav", "00001_a-dog-barks-loudly_seed42.wav"]
        for _, _, p in inserts:
            check_wav(p, 0.2, model.sample_rate, "PCM_16")
        # Each take is named after the prompt; the item notes hold the recipe read from the file.
        takes = dict(line[len("TAKENAME "):].split("\t", 1) for line in lines if line.startswith("TAKENAME "))
        notes = dict(line[len("NOTES "):].split("\t", 1) for line in lines if line.startswith("NOTES "))
        assert [takes[p] for _, _, p in inserts] == ["a dog barks, loudly (seed 41)", "a dog barks, loudly (seed 42)"]
        for seed, (_, _, p) in zip((41, 42), inserts):
            rows = notes[p].split("|")
            assert rows[:3] == ["prompt: a dog barks, loudly", f"seed: {seed}", f"variation: {seed - 41}"], rows
            assert "model: untrained:tiny" in rows and "normalize: peak" in rows and "loop: false" in rows
            command = next(r for r in rows if r.startswith("command: "))
            assert f"--seed {seed}" in command and command.endswith("-- 'a dog barks, loudly'")
    finally:
        server.stop()


def test_daw_files_are_well_formed():
    """Static checks that need no DAW: every patch cord joins existing objects, the Max patch
    is valid JSON with the documented objects, the Lua script has the documented settings."""
    import json

    daw = PD_PATCH.parent
    # Pure Data: objects are numbered in file order (#X obj/msg/text/floatatom/symbolatom).
    objects, cords = [], []
    for line in PD_PATCH.read_text().split(";\n"):
        parts = line.split()
        if parts[:2] in (["#X", "obj"], ["#X", "msg"], ["#X", "text"], ["#X", "floatatom"], ["#X", "symbolatom"]):
            objects.append(" ".join(parts[4:]))
        elif parts[:2] == ["#X", "connect"]:
            cords.append(tuple(int(x) for x in parts[2:6]))
    assert cords and all(a < len(objects) and b < len(objects) for a, _, b, _ in cords)
    for needed in ("oscformat audiogan generate", "list prepend send", "list trim", "netsend -u -b",
                   "netreceive -u -b 9001", "oscparse", "soundfiler"):
        assert any(o.startswith(needed) for o in objects), needed
    # Max: JSON, and every line's ends are boxes with enough outlets/inlets.
    patcher = json.loads((daw / "audiogan.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert outlet < boxes[src]["numoutlets"] and inlet < boxes[dst]["numinlets"], line
    texts = [b.get("text", "") for b in boxes.values()]
    for needed in ("udpsend 127.0.0.1 9000", "udpreceive 9001", "sfplay~", "prepend /audiogan/generate"):
        assert needed in texts, needed
    lua = (daw / "reaper_audiogan.lua").read_text()
    for needed in ("local PORT = 9000", "local OSCSEND = nil", "reaper.GetUserInputs", "reaper.InsertMedia",
                   "reaper.defer", "/audiogan/generate"):
        assert needed in lua, needed
