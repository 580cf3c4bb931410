-- reaper_audiogan.lua - ReaScript (Lua): describe a sound, get it from a running
-- `audiogan serve`, and insert it at the edit cursor.
--
-- Install: Actions > Show action list > New action > Load ReaScript... > this file.
-- Start the server first, on the same machine:
--     audiogan serve --out ~/audiogan-out --sample-rate 48000 --bit-depth 24
-- and give the script that same --out folder the first time it asks (it is remembered).
--
-- How it talks to the server, and why this route:
--   * Sending. REAPER's Lua has no sockets, and reaper.OscLocalMessageToHost only talks to
--     REAPER itself. So the script encodes the OSC message itself and sends it with LuaSocket
--     when REAPER can load it (require "socket"); otherwise it runs liblo's `oscsend`
--     (Linux: apt install liblo-tools; macOS: brew install liblo; Windows: put oscsend.exe
--     on PATH or set OSCSEND below). The request carries a seed chosen here.
--   * Receiving. Waiting for the UDP reply would block REAPER's UI (no sockets, or a
--     blocking one). Instead the script watches the server's --out folder from a
--     reaper.defer() loop: the server names files {job}_{text}_seed{SEED}.wav and writes them
--     atomically (complete before they appear), so a new file ending in _seed{SEED}.wav is
--     ours and is complete. Nothing blocks; several requests can run at once.
--   Errors (bad seconds, busy queue) are not seen this way: the script times out with a hint.
--   `oscdump PORT` in a terminal with `audiogan serve --reply-port PORT` shows them.
--   * Naming. Each take is named after the prompt (and its seed), and the item notes get the
--     recipe the server wrote into the file (its iXML chunk: prompt, seed, model and weights
--     hash, plugins, level, and the `audiogan generate` command that makes it again).

local HOST = "127.0.0.1"
local PORT = 9000
local OSCSEND = nil        -- nil: "oscsend" on PATH, or the usual Homebrew places
local TIMEOUT = 180        -- seconds to wait for the files
local SECTION = "audiogan" -- ExtState section remembering the last answers

---------------------------------------------------------------------------------------
local function is_windows() return reaper.GetOS():match("^Win") ~= nil end

local function osc_string(s)
  s = s .. "\0"
  return s .. string.rep("\0", (4 - #s % 4) % 4)
end

-- A minimal OSC 1.0 encoder: strings (s), 32-bit ints (i), 32-bit floats (f).
local function osc_message(address, types, ...)
  local args = { ... }
  local out = { osc_string(address), osc_string("," .. types) }
  for k = 1, #types do
    local t, v = types:sub(k, k), args[k]
    if t == "s" then out[#out + 1] = osc_string(v)
    elseif t == "i" then out[#out + 1] = string.pack(">i4", math.tointeger(v))
    elseif t == "f" then out[#out + 1] = string.pack(">f", v)
    end
  end
  return table.concat(out)
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function send_luasocket(packet)
  local ok, socket = pcall(require, "socket")
  if not ok or not socket or not socket.udp then return false end
  local udp = socket.udp()
  local sent = udp:sendto(packet, HOST, PORT)
  udp:close()
  return sent ~= nil
end

local function shell_quote(s)
  if is_windows() then return '"' .. s:gsub('[%%"]', "") .. '"' end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function find_oscsend()
  if OSCSEND then return OSCSEND end
  if not is_windows() then
    for _, p in ipairs({ "/opt/homebrew/bin/oscsend", "/usr/local/bin/oscsend", "/usr/bin/oscsend" }) do
      if file_exists(p) then return p end
    end
  end
  return "oscsend"
end

local function send_oscsend(text, seed, seconds, variations)
  local cmd = table.concat({ shell_quote(find_oscsend()), HOST, tostring(PORT), "/audiogan/generate", "sifi",
    shell_quote(text), tostring(seed), string.format("%.6f", seconds), tostring(variations) }, " ")
  if is_windows() then
    local out = reaper.ExecProcess(cmd, 10000) -- no console window; "exit code\noutput"
    return out ~= nil and out:match("^0\n") ~= nil
  end
  local ok, _, code = os.execute(cmd)
  return ok == true or ok == 0 or code == 0
end

local function list_wavs(dir)
  local names, i = {}, 0
  reaper.EnumerateFiles(dir, -1) -- forget REAPER's cached listing of this folder
  while true do
    local name = reaper.EnumerateFiles(dir, i)
    if not name then break end
    if name:sub(-4):lower() == ".wav" and name:sub(1, 1) ~= "." then names[name] = true end
    i = i + 1
  end
  return names
end

local function xml_unescape(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&apos;", "'"):gsub("&#(%d+);",
    function(n) return utf8.char(tonumber(n)) end):gsub("&amp;", "&"))
end

-- The <AUDIOGAN> recipe in a WAV's iXML chunk as "key: value" lines, or nil.
local function read_recipe(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local head, xml = f:read(12), nil
  if head and #head == 12 and head:sub(1, 4) == "RIFF" and head:sub(9, 12) == "WAVE" then
    while true do
      local h = f:read(8)
      if not h or #h < 8 then break end
      local id, size = h:sub(1, 4), string.unpack("<I4", h, 5)
      if id == "iXML" then xml = f:read(size) break end
      if not f:seek("cur", size + size % 2) then break end
    end
  end
  f:close()
  local block = xml and xml:match("<AUDIOGAN>(.-)</AUDIOGAN>")
  if not block then return nil end
  local lines = {}
  for tag, value in block:gmatch("<([%w_]+)[^>]*>(.-)</%1>") do
    if value ~= "{}" then
      lines[#lines + 1] = tag:lower():gsub("_", " ") .. ": " .. xml_unescape(value)
    end
  end
  return table.concat(lines, "\n")
end

-- The item REAPER just made for this file (InsertMedia leaves it selected).
local function inserted_item(path)
  for k = 0, reaper.CountSelectedMediaItems(0) - 1 do
    local item = reaper.GetSelectedMediaItem(0, k)
    local take = item and reaper.GetActiveTake(item)
    if take and reaper.GetMediaSourceFileName(reaper.GetMediaItemTake_Source(take), "") == path then
      return item, take
    end
  end
  return nil
end

local function ours(name, seed)
  -- {job}_{slug}_seed{SEED}.wav, or _seed{SEED}_{n}.wav when that name was taken
  local s = name:match("_seed(%d+)%.wav$") or name:match("_seed(%d+)_%d+%.wav$")
  return s ~= nil and tonumber(s) == seed
end

---------------------------------------------------------------------------------------
local function main()
  local sep = is_windows() and "\\" or "/"
  local last = {
    reaper.GetExtState(SECTION, "text") ~= "" and reaper.GetExtState(SECTION, "text") or "footsteps on gravel",
    reaper.GetExtState(SECTION, "seconds") ~= "" and reaper.GetExtState(SECTION, "seconds") or "2",
    "",
    reaper.GetExtState(SECTION, "variations") ~= "" and reaper.GetExtState(SECTION, "variations") or "1",
    reaper.GetExtState(SECTION, "out_dir") ~= "" and reaper.GetExtState(SECTION, "out_dir")
      or ((os.getenv("HOME") or os.getenv("USERPROFILE") or "") .. sep .. "audiogan-out"),
  }
  local ok, answer = reaper.GetUserInputs("audiogan: describe a sound", 5,
    "Description,Seconds,Seed (blank = random),Variations,Server --out folder,separator=\n,extrawidth=320",
    table.concat(last, "\n"))
  if not ok then return end
  local fields = {}
  for f in (answer .. "\n"):gmatch("(.-)\n") do fields[#fields + 1] = f end
  local text, seconds, seed, variations, out_dir = fields[1] or "", tonumber(fields[2]), tonumber(fields[3]),
    tonumber(fields[4]) or 1, (fields[5] or ""):gsub("[/\\]+$", "")
  if not text:match("%S") then reaper.ShowMessageBox("Describe a sound first.", "audiogan", 0) return end
  if not seconds or seconds <= 0 then reaper.ShowMessageBox("Seconds must be a positive number.", "audiogan", 0) return end
  variations = math.tointeger(variations) or math.floor(variations)
  if variations < 1 then variations = 1 end
  if not seed then
    math.randomseed(os.time() + math.floor(reaper.time_precise() * 1000))
    seed = math.random(0, 2147483647 - 256)
  end
  seed = math.floor(seed)
  if seed < 0 or seed > 2147483647 - 256 then
    reaper.ShowMessageBox("Seed must be between 0 and 2147483391 (blank = random).", "audiogan", 0)
    return
  end
  reaper.SetExtState(SECTION, "text", text, true)
  reaper.SetExtState(SECTION, "seconds", fields[2], true)
  reaper.SetExtState(SECTION, "variations", tostring(variations), true)
  reaper.SetExtState(SECTION, "out_dir", out_dir, true)

  local before = list_wavs(out_dir)
  local packet = osc_message("/audiogan/generate", "sifi", text, seed, seconds, variations)
  if not send_luasocket(packet) and not send_oscsend(text, seed, seconds, variations) then
    reaper.ShowMessageBox("Could not send the request: no LuaSocket and `oscsend` failed.\n"
      .. "Install liblo-tools (oscsend) or set OSCSEND in the script.", "audiogan", 0)
    return
  end

  local started, next_look, found = reaper.time_precise(), 0, {}
  local function wait()
    local now = reaper.time_precise()
    if now >= next_look then
      next_look = now + 0.25
      local count = 0
      for name in pairs(list_wavs(out_dir)) do
        if not before[name] then
          for v = 0, variations - 1 do
            if ours(name, seed + v) then found[name] = true end
          end
        end
      end
      for _ in pairs(found) do count = count + 1 end
      if count >= variations then
        local names = {}
        for name in pairs(found) do names[#names + 1] = name end
        table.sort(names, function(a, b)
          return tonumber(a:match("_seed(%d+)")) < tonumber(b:match("_seed(%d+)"))
        end)
        reaper.Undo_BeginBlock()
        for k, name in ipairs(names) do
          -- First clip on the selected track at the edit cursor, further variations on new tracks.
          local path = out_dir .. sep .. name
          reaper.InsertMedia(path, k == 1 and 0 or 1)
          local item, take = inserted_item(path)
          if item then
            local clip_seed = name:match("_seed(%d+)")
            reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", text .. " (seed " .. clip_seed .. ")", true)
            reaper.GetSetMediaItemInfo_String(item, "P_NOTES", read_recipe(path)
              or ("prompt: " .. text .. "\nseed: " .. clip_seed .. "\nseconds: " .. tostring(seconds)), true)
          end
        end
        reaper.Undo_EndBlock("audiogan: " .. text, -1)
        reaper.UpdateArrange()
        return
      end
      if now - started > TIMEOUT then
        reaper.ShowMessageBox(string.format("No file for seed %d in\n%s\nafter %d s.\n\nIs `audiogan serve` running "
          .. "on %s:%d with --out set to that folder? Seconds within the model's limit?", seed, out_dir, TIMEOUT,
          HOST, PORT), "audiogan", 0)
        return
      end
    end
    reaper.defer(wait)
  end
  wait()
end

main()
