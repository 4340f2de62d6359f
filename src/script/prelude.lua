-- ferrokv's glue between the server and scripts, run once in each new
-- interpreter, in the real globals, before they are hidden behind a
-- read-only view. It gives scripts Redis 7.0's environment on a stock
-- Lua 5.1: Redis patches its Lua to make tables read-only; here every
-- table a script may reach through the globals is a proxy that refuses
-- writes with Redis's message, and the few base functions that could
-- reach around a proxy (rawset, setmetatable, getmetatable, getfenv,
-- next, pairs) see through or refuse as Redis does.
local api, real_G = ...

local error, type, select, tostring, tonumber = error, type, select, tostring, tonumber
local rawset, setmetatable, getmetatable = rawset, setmetatable, getmetatable
local next, pairs = next, pairs
local loadstring, load = loadstring, load
local floor = math.floor

local READONLY = 'Attempt to modify a readonly table'
local real_of = setmetatable({}, { __mode = 'k' })

local function deny()
  error(READONLY, 2)
end

local function protect(t)
  local p = {}
  real_of[p] = t
  setmetatable(p, { __index = t, __newindex = deny, __metatable = false })
  return p
end

-- Every function here that a script calls goes through a C trampoline
-- (`C`): a script's `return f(...)` then keeps the script's frame, as it
-- does for Redis's own C functions, so an error still names the line.
-- Inside a wrapper, level 1 is the wrapper, 2 the trampoline, 3 the
-- script.
local C = api.c_wrap

-- Errors raised by the API are tables, as Redis's luaPushError makes them.
-- While a debugger steps the script, each error is logged.
local function fail(msg)
  api.ldb_error(msg)
  error({ err = 'ERR ' .. msg })
end
local function bad_args()
  api.ldb_error('wrong number or type of arguments')
  return { err = 'ERR wrong number or type of arguments' }
end

-- redis.*
local redis = {}
redis.call = api.call
redis.pcall = api.pcall
redis.setresp = function(...)
  local msg = api.setresp(select('#', ...), ...)
  if msg then
    fail(msg)
  end
end
redis.set_repl = function(...)
  local msg = api.set_repl(select('#', ...), ...)
  if msg then
    fail(msg)
  end
end
redis.log = function(...)
  local argc = select('#', ...)
  if argc < 2 then
    fail('redis.log() requires two arguments or more.')
  end
  local level = ...
  if tonumber(level) == nil then
    fail('First argument must be a number (log level).')
  end
  level = tonumber(level)
  if level < 0 or level > 3 then
    fail('Invalid debug level.')
  end
  api.log(...)
end
redis.sha1hex = function(...)
  if select('#', ...) ~= 1 then
    fail('wrong number of arguments')
  end
  local s = ...
  if type(s) == 'number' then
    s = tostring(s)
  elseif type(s) ~= 'string' then
    s = ''
  end
  return api.sha1hex(s)
end
redis.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return bad_args()
  end
  api.ldb_error(e:sub(1, 1) == '-' and e or '-' .. e)
  return { err = api.error_text(e) }
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return bad_args()
  end
  return { ok = s }
end
redis.replicate_commands = function()
  return true
end
-- Live in a debugging session (see ldb.rs), C functions like Redis's.
redis.breakpoint = api.breakpoint
redis.debug = api.debug
redis.acl_check_cmd = function(...)
  local allowed, msg = api.acl_check_cmd(...)
  if msg then
    fail(msg)
  end
  return allowed
end
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
redis.REDIS_VERSION = api.version
redis.REDIS_VERSION_NUM = api.version_num

-- math.random and math.randomseed: Redis's own rand48, the same sequence
-- on every platform, as Lua's own would not be.
local function checkint(n, present, v, name)
  local x = tonumber(v)
  if x == nil then
    local got = present and type(v) or 'no value'
    error("bad argument #" .. n .. " to '" .. name .. "' (number expected, got " .. got .. ")", 4)
  end
  -- C's (int) cast of a double, as on x86-64.
  if x >= 2147483648 or x < -2147483648 or x ~= x then
    return -2147483648
  end
  return x >= 0 and floor(x) or -floor(-x)
end
local math_random = function(...)
  local argc = select('#', ...)
  local r = api.rand() / 2147483647
  if argc == 0 then
    return r
  elseif argc == 1 then
    local u = checkint(1, true, (...), 'random')
    if not (1 <= u) then
      error("bad argument #1 to 'random' (interval is empty)", 3)
    end
    return floor(r * u) + 1
  elseif argc == 2 then
    local l, u = ...
    l = checkint(1, true, l, 'random')
    u = checkint(2, true, u, 'random')
    if not (l <= u) then
      error("bad argument #2 to 'random' (interval is empty)", 3)
    end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 3)
end
local math_randomseed = function(...)
  api.srand(checkint(1, select('#', ...) > 0, (...), 'randomseed'))
end
math.random = C(math_random)
math.randomseed = C(math_randomseed)

-- The base functions that could reach around a proxy.
local function real(t)
  return real_of[t] or t
end
-- Arguments are checked here, so an error names the script's line as
-- the base function's own check would.
local function check(n, name, want, argc, v, ok)
  if not ok then
    local got = n > argc and 'no value' or type(v)
    error("bad argument #" .. n .. " to '" .. name .. "' (" .. want .. " expected, got " .. got .. ")", 4)
  end
end
real_G.rawset = function(...)
  local argc, t, k = select('#', ...), ...
  check(1, 'rawset', 'table', argc, t, type(t) == 'table')
  if real_of[t] then
    error(READONLY, 0)
  end
  check(2, 'rawset', 'value', argc, k, argc >= 2)
  check(3, 'rawset', 'value', argc, nil, argc >= 3)
  return rawset(...)
end
real_G.setmetatable = function(...)
  local argc, t, m = select('#', ...), ...
  check(1, 'setmetatable', 'table', argc, t, type(t) == 'table')
  check(2, 'setmetatable', 'nil or table', argc, m, m == nil or type(m) == 'table')
  if real_of[t] then
    error(READONLY, 0)
  end
  return setmetatable(t, m)
end
real_G.next = function(t, k)
  return next(real(t), k)
end
real_G.pairs = function(t)
  return pairs(real(t))
end

-- Binary chunks are refused, as Redis's Lua refuses them: the text
-- parser reports the escape byte as an unexpected symbol.
local function textual(s)
  if type(s) == 'string' and s:byte(1) == 27 then
    return '\1' .. s:sub(2), true
  end
  return s, false
end
local function restore_escape(f, msg)
  if f == nil and type(msg) == 'string' then
    msg = msg:gsub('\1', '\27'):gsub('char%(1%)', 'char(27)')
  end
  return f, msg
end
real_G.loadstring = function(s, name)
  local text, escaped = textual(s)
  if escaped then
    return restore_escape(loadstring(text, name))
  end
  return loadstring(s, name)
end
real_G.load = function(f, name)
  local first = true
  local escaped = false
  local reader = f
  if type(f) == 'function' then
    reader = function()
      local piece = f()
      if first and type(piece) == 'string' and piece ~= '' then
        first = false
        piece, escaped = textual(piece)
      end
      return piece
    end
  end
  local fn, msg = load(reader, name)
  if escaped then
    return restore_escape(fn, msg)
  end
  return fn, msg
end

-- Not in Redis's globals.
for _, name in ipairs({ 'print', 'dofile', 'loadfile', 'getfenv', 'setfenv', 'newproxy' }) do
  real_G[name] = nil
end

-- Through the trampoline: the API and the base functions replaced above.
for _, name in ipairs({ 'setresp', 'set_repl', 'log', 'sha1hex', 'error_reply', 'status_reply',
  'replicate_commands', 'acl_check_cmd' }) do
  redis[name] = C(redis[name])
end
for _, name in ipairs({ 'rawset', 'setmetatable', 'next', 'pairs', 'loadstring', 'load' }) do
  real_G[name] = C(real_G[name])
end

-- What scripts see: every library table behind a proxy, the globals too.
local libraries = { 'string', 'table', 'math', 'cjson', 'cmsgpack', 'bit', 'struct', 'coroutine' }
for _, name in ipairs(libraries) do
  local lib = real_G[name]
  if type(lib) == 'table' then
    real_G[name] = protect(lib)
  end
end
-- The strings' own metatable leads to the string library too.
local string_meta = getmetatable('')
string_meta.__index = real_G.string
local string_meta_view = protect(string_meta)
real_G.getmetatable = C(function(o)
  if type(o) == 'string' then
    return string_meta_view
  end
  return getmetatable(o)
end)
real_G.redis = protect(redis)

local globals = protect(real_G)
real_G._G = globals
-- pcall gives a Redis error table's message, as Redis's own pcall.
local raw_pcall = pcall
local function caught(ok, ...)
  if ok then
    return ok, ...
  end
  local e = ...
  if type(e) == 'table' then
    local msg = e.err
    if type(msg) == 'string' or type(msg) == 'number' then
      return false, msg
    end
  end
  return false, e
end
real_G.pcall = C(function(...)
  return caught(raw_pcall(...))
end)
real_G.__redis__err__handler = api.error_handler

-- Reading a global that does not exist is an error.
setmetatable(real_G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = deny,
  __metatable = false,
})

return globals
