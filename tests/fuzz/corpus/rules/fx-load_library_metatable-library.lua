-- A rule file that gives the shared math library a protected metatable at
-- load time (which would keep it from being frozen): engine_new must refuse it.
setmetatable(math, { __metatable = "mine" })
