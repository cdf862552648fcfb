-- Shared steps of the Neovim editor tests (0.7 and 0.11): expectations, diagnostics, code actions, goldens.
local H = { failures = {} }

local function env(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set")
  return v
end

local function read_file(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.log(msg)
  io.stderr:write("[" .. H.name .. "] " .. msg .. "\n")
end

function H.fail(msg)
  table.insert(H.failures, msg)
  H.log("FAIL: " .. msg)
end

function H.init(name)
  H.name = name
  H.tests_dir = env("KLSP_TESTS_DIR")
  H.file = env("KLSP_FILE")
  H.exp = vim.json.decode(read_file(H.tests_dir .. "/expectations.json"))
end

function H.golden(rel)
  local text = read_file(H.tests_dir .. "/" .. rel)
  return (text:gsub("\n$", ""))
end

function H.buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
end

local function code_of(d)
  return d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
end

function H.keras_diagnostics(buf)
  return vim.tbl_filter(function(d)
    return d.source == "keras-lsp"
  end, vim.diagnostic.get(buf))
end

local function describe(list)
  local parts = {}
  for _, d in ipairs(list) do
    table.insert(parts, string.format("%s@[%d,%d,%d,%d]", tostring(code_of(d)), d.lnum, d.col, d.end_lnum or d.lnum, d.end_col or d.col))
  end
  table.sort(parts)
  return table.concat(parts, " ")
end

--- Waits for the diagnostics, then checks that each expected (code, range) is there exactly once.
function H.check_diagnostics(buf)
  local want = #H.exp.diagnostics
  local got_all = vim.wait(20000, function()
    return #H.keras_diagnostics(buf) >= want
  end, 50)
  vim.wait(300) -- let a second publish (push + pull) land, so duplicates show up
  local got = H.keras_diagnostics(buf)
  H.log("diagnostics: " .. describe(got))
  if not got_all then
    H.fail(string.format("expected %d keras-lsp diagnostics within 20 s, got %d", want, #got))
  end
  for _, e in ipairs(H.exp.diagnostics) do
    local n = 0
    for _, d in ipairs(got) do
      local r = e.range
      if code_of(d) == e.code and d.lnum == r[1] and d.col == r[2] and (d.end_lnum or d.lnum) == r[3] and (d.end_col or d.col) == r[4] then
        n = n + 1
      end
    end
    if n ~= 1 then
      H.fail(string.format("%s at [%d,%d,%d,%d] appears %d times (want 1)", e.code, e.range[1], e.range[2], e.range[3], e.range[4], n))
    end
  end
end

--- Replaces vim.ui.select so that the code-action menu picks the first item `accept` likes,
--- as a user would; records the titles offered.
function H.choose_action(accept)
  local state = { offered = {}, picked = nil }
  vim.ui.select = function(items, opts, on_choice)
    local choice = nil
    for _, item in ipairs(items) do
      local action = item.action or item[2]
      table.insert(state.offered, action.title)
      if choice == nil and accept(action) then
        choice = item
        state.picked = action.title
      end
    end
    on_choice(choice)
  end
  return state
end

--- Waits until the buffer equals the golden file; reports a diff-like message otherwise.
function H.expect_buffer(buf, rel, what)
  local want = H.golden(rel)
  local ok = vim.wait(10000, function()
    return H.buffer_text(buf) == want
  end, 50)
  if not ok then
    H.fail(what .. ": buffer differs from " .. rel .. ":\n" .. H.buffer_text(buf))
  end
  return ok
end

--- Waits until no keras-lsp diagnostic with `code` is left (the server re-checked the edit).
function H.expect_gone(buf, code, what)
  local ok = vim.wait(10000, function()
    for _, d in ipairs(H.keras_diagnostics(buf)) do
      if code_of(d) == code then
        return false
      end
    end
    return true
  end, 50)
  if not ok then
    H.fail(what .. ": " .. code .. " still reported after the fix: " .. describe(H.keras_diagnostics(buf)))
  end
end

--- Runs `fn` and counts the workspace edits Neovim applies meanwhile (code actions with apply=true
--- skip the menu, so this is how a test sees that an action was found and applied).
function H.count_edits(fn)
  local util = vim.lsp.util
  local orig = util.apply_workspace_edit
  local n = 0
  util.apply_workspace_edit = function(...)
    n = n + 1
    return orig(...)
  end
  local ok, err = pcall(fn)
  vim.wait(2000, function() return n > 0 end, 20)
  util.apply_workspace_edit = orig
  if not ok then
    error(err)
  end
  return n
end

function H.quickfix_accept(action)
  return vim.startswith(action.title, H.exp.quickfix.titlePrefix)
end

function H.fixall_accept(action)
  return action.kind == H.exp.fixAll.kind
end

function H.cursor_on(code)
  for _, e in ipairs(H.exp.diagnostics) do
    if e.code == code then
      vim.api.nvim_win_set_cursor(0, { e.range[1] + 1, e.range[2] })
      return
    end
  end
  error("no expected diagnostic with code " .. code)
end

function H.finish()
  if #H.failures == 0 then
    H.log("all checks passed")
    vim.cmd("qall!")
  else
    vim.cmd("cquit 1")
  end
end

--- Runs `body` and turns a Lua error into a failure, so the editor always exits.
function H.run(name, body)
  H.init(name)
  local ok, err = xpcall(body, debug.traceback)
  if not ok then
    H.fail("error: " .. tostring(err))
  end
  H.finish()
end

return H
