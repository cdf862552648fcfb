-- keras-lsp for Neovim >= 0.11: put this file's parent on 'runtimepath' (or copy it to ~/.config/nvim/lsp/) and call vim.lsp.enable("keras_lsp").

---@type vim.lsp.Config
return {
  cmd = { "keras-lsp", "server" },
  filetypes = { "python" },
  root_markers = { "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", ".git" },
  -- Server settings (README): vim.lsp.config("keras_lsp", { settings = { ["keras-lsp"] = { ignore = { "KRS401" } } } }).
  on_attach = function(client, bufnr)
    -- :KerasLspFixAll applies every safe fix in the buffer (the server's source.fixAll action).
    vim.api.nvim_buf_create_user_command(bufnr, "KerasLspFixAll", function()
      vim.lsp.buf.code_action({
        context = { only = { "source.fixAll.keras-lsp" } },
        apply = true,
      })
    end, { desc = "keras-lsp: apply all safe fixes" })
    -- :KerasLspBenchmark measures the finding under the cursor (progress shows via LspProgress).
    vim.api.nvim_buf_create_user_command(bufnr, "KerasLspBenchmark", function()
      local lnum = vim.api.nvim_win_get_cursor(0)[1] - 1
      local found = vim.tbl_filter(function(d)
        return d.source == "keras-lsp"
      end, vim.diagnostic.get(bufnr, { lnum = lnum }))
      if #found == 0 then
        vim.notify("keras-lsp: no finding on this line", vim.log.levels.INFO)
        return
      end
      local d = found[1]
      local range = {
        start = { line = d.lnum, character = d.col },
        ["end"] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
      }
      client:exec_cmd({
        title = "Measure " .. tostring(d.code),
        command = "keras-lsp.runBenchmark",
        arguments = { vim.uri_from_bufnr(bufnr), d.code, range },
      }, { bufnr = bufnr }, function(err, result)
        if err then
          vim.notify("keras-lsp benchmark failed: " .. tostring(err.message), vim.log.levels.ERROR)
        else
          vim.notify("keras-lsp benchmark: " .. vim.inspect(result), vim.log.levels.INFO)
        end
      end)
    end, { desc = "keras-lsp: benchmark the finding under the cursor" })
  end,
}
