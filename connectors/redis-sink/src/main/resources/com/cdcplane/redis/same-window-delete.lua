-- DEL KEYS[1] only if its JSON document still holds the tombstone's window: the window's count was retracted,
-- and no newer window has replaced it since. ARGV[1] = window field name, ARGV[2] = 'n' or 's', ARGV[3] = value,
-- ARGV[4] = the tombstone's position for the replay guard (KEYS[2], see replay-guard.lua). A tombstone is
-- remembered too, so a replay does not bring the retracted window's earlier counts back.
-- Returns 1 when deleted, 0 when left alone, -1 when the key holds another type (a tombstone never fails),
-- 2 when the key has already seen the tombstone (a replay).
local target = ARGV[3]
if ARGV[2] == 'n' then
  target = tonumber(target)
end
local current = redis.pcall('JSON.GET', KEYS[1])
if type(current) == 'table' and current.err then
  return -1
end
local stored_pos = stored_position()
if replayed(stored_pos, ARGV[4]) then
  return 2
end
remember(stored_pos, ARGV[4])
if not current then
  return 0
end
local ok, doc = pcall(cjson.decode, current)
if ok and type(doc) == 'table' and doc[ARGV[1]] == target then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
