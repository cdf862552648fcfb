-- Neovim 0.11 test: the shipped lsp/keras_lsp.lua (found on 'runtimepath'), enabled as a user would.
local H = dofile(os.getenv("KLSP_TESTS_DIR") .. "/neovim/harness.lua")

H.run("neovim-0.11", function()
  vim.cmd("filetype on") -- -u NONE turns detection off
  vim.lsp.enable("keras_lsp")
  vim.cmd.edit(H.file)
  local buf = vim.api.nvim_get_current_buf()
  assert(vim.bo[buf].filetype == "python", "fixture not detected as python")

  H.check_diagnostics(buf)
  local clients = vim.lsp.get_clients({ bufnr = buf, name = "keras_lsp" })
  if #clients ~= 1 then
    H.fail("expected one keras_lsp client attached, got " .. #clients)
  end

  -- Quick fix through Neovim's default code-action mapping (gra) and its menu.
  assert(vim.fn.maparg("gra", "n") ~= "", "Neovim's default gra mapping is missing")
  H.cursor_on(H.exp.quickfix.code)
  local qf = H.choose_action(H.quickfix_accept)
  vim.cmd("normal gra")
  vim.wait(5000, function() return qf.picked ~= nil or #qf.offered > 0 end, 20)
  H.log("quick fixes offered: " .. table.concat(qf.offered, " | "))
  if not qf.picked then
    H.fail("no code action titled '" .. H.exp.quickfix.titlePrefix .. "...' offered")
  elseif H.expect_buffer(buf, H.exp.quickfix.after, "quick fix") then
    H.expect_gone(buf, H.exp.quickfix.code, "quick fix")
  end

  -- Fix-all through the command the shipped config defines.
  if vim.fn.exists(":KerasLspFixAll") ~= 2 then
    H.fail(":KerasLspFixAll is not defined in the attached buffer")
  else
    local applied = H.count_edits(function() vim.cmd("KerasLspFixAll") end)
    if applied ~= 1 then
      H.fail(":KerasLspFixAll applied " .. applied .. " edits (want the one fix-all action)")
    end
    H.expect_buffer(buf, H.exp.fixAll.after, "fix-all")
  end
end)
