-- Neovim 0.7 (and 0.11) test of the README's legacy snippet: diagnostics, quick fix, <leader>kf fix-all.
local H = dofile(os.getenv("KLSP_TESTS_DIR") .. "/neovim/harness.lua")

H.run(os.getenv("KLSP_TEST_NAME") or "neovim-legacy", function()
  -- The snippet was loaded as the init file (-u); the FileType autocmd starts the client.
  vim.cmd("filetype on")
  vim.cmd("edit " .. vim.fn.fnameescape(H.file))
  local buf = vim.api.nvim_get_current_buf()
  assert(vim.bo[buf].filetype == "python", "fixture not detected as python")

  H.check_diagnostics(buf)

  -- Quick fix: vim.lsp.buf.code_action() and its menu, as the README says.
  H.cursor_on(H.exp.quickfix.code)
  local qf = H.choose_action(H.quickfix_accept)
  vim.lsp.buf.code_action()
  vim.wait(5000, function() return qf.picked ~= nil or #qf.offered > 0 end, 20)
  H.log("quick fixes offered: " .. table.concat(qf.offered, " | "))
  if not qf.picked then
    H.fail("no code action titled '" .. H.exp.quickfix.titlePrefix .. "...' offered")
  elseif H.expect_buffer(buf, H.exp.quickfix.after, "quick fix") then
    H.expect_gone(buf, H.exp.quickfix.code, "quick fix")
  end

  -- Fix-all through the README's <leader>kf mapping (mapleader unset: backslash).
  local fa = H.choose_action(H.fixall_accept)
  local applied = H.count_edits(function() vim.cmd("normal \\kf") end)
  if applied ~= 1 then
    H.fail("<leader>kf applied " .. applied .. " edits (want the one fix-all action); offered: " .. table.concat(fa.offered, " | "))
  end
  H.expect_buffer(buf, H.exp.fixAll.after, "fix-all")
end)
