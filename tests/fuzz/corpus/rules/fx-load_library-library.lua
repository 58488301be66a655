-- A rule file that rewrites the string library every rule file shares, at
-- load time: engine_new must refuse it.
string.upper = function() return "HACKED" end
