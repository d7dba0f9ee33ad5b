-- JSON.SET KEYS[1] $ ARGV[1] unless the record is older than what the key already holds.
-- ARGV[2] = window field name ('' = no window rule), ARGV[3] = 'n' (number) or 's' (string), ARGV[4] = the
-- record's window value, ARGV[5] = the record's position for the replay guard (KEYS[2], see replay-guard.lua).
-- Runs atomically inside Redis, so two tasks writing the same key cannot interleave read and write.
-- Returns 1 when written, 0 when the stored window is newer (the record is stale), 2 when the key has already seen
-- the record (a replay).
local stored_pos = stored_position()
if replayed(stored_pos, ARGV[5]) then
  return 2
end
if ARGV[2] ~= '' then
  local incoming = ARGV[4]
  if ARGV[3] == 'n' then
    incoming = tonumber(incoming)
  end
  local current = redis.call('JSON.GET', KEYS[1])
  if current then
    local ok, doc = pcall(cjson.decode, current)
    if ok and type(doc) == 'table' then
      local stored = doc[ARGV[2]]
      if stored ~= nil and stored ~= cjson.null then
        if type(stored) ~= type(incoming) then
          return redis.error_reply('stored field ' .. ARGV[2] .. ' of ' .. KEYS[1] .. ' is a ' .. type(stored)
            .. ' but the record carries a ' .. type(incoming) .. ', so the windows cannot be compared')
        end
        if stored > incoming then
          remember(stored_pos, ARGV[5])
          return 0
        end
      end
    end
  end
end
redis.call('JSON.SET', KEYS[1], '$', ARGV[1])
remember(stored_pos, ARGV[5])
return 1
