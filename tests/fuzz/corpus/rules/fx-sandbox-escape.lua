-- Programme "escape": one criterion per way out of the sandbox.  A check
-- passes quietly unless the applicant_id names it; then it tries its escape
-- on the line marked "@<criterion id>", which tests/unit/engine.c looks up to
-- know the line the error must name.

local TEXT = { en = "escape", fr = "évasion", ar = "هروب" }
local REF = "tests/unit/engine.c"
local SHARED = { limit = 1 }          -- a table this file declared: frozen once sealed

local function try(id, f)
  return criterion(id) {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= id then return true end
      return f(a) ~= nil
    end,
  }
end

program "escape" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  try("load", function() return load("return 1") end),                         -- @load
  try("load_binary", function() return load(string.char(27) .. "Lua\84\0") end), -- @load_binary
  try("loadstring", function() return loadstring("return 1") end),             -- @loadstring
  try("dofile", function() return dofile("/etc/passwd") end),                  -- @dofile
  try("loadfile", function() return loadfile("/etc/passwd") end),              -- @loadfile
  try("require", function() return require("io") end),                        -- @require
  try("io", function() return io.open("/etc/passwd") end),                     -- @io
  try("os", function() return os.execute("true") end),                         -- @os
  try("os_time", function() return os.time() end),                             -- @os_time
  try("os_clock", function() return os.clock() end),                           -- @os_clock
  try("debug", function() return debug.getinfo(1) end),                        -- @debug
  try("collectgarbage", function() return collectgarbage("count") end),        -- @collectgarbage
  try("string_dump", function() return string.dump(try) end),                  -- @string_dump
  try("method_dump", function() return (""):dump(try) end),                    -- @method_dump
  try("random", function() return math.random(1, 6) end),                      -- @random
  try("setmetatable_string", function() return setmetatable(string, {}) end),  -- @setmetatable_string
  try("setmetatable_shared", function() return setmetatable(SHARED, {}) end),  -- @setmetatable_shared
  try("string_index", function()
    local real = getmetatable("").__index
    real.upper = function() return "escaped" end                               -- @string_index
    return real
  end),
  try("rawset", function() return rawset(SHARED, "limit", 2) end),             -- @rawset
  try("global", function() leaked = true; return leaked end),                  -- @global

  criterion "upper" {                 -- what a string method gives, for every applicant
    text = TEXT, reference = REF,
    check = function(a) return true, { upper = (a.applicant_id):upper() } end,
  },
}
