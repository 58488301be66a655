-- A rule file that writes a global at load time: engine_new must refuse it.
counter = 0
