-- cnnscript for Neovim (0.7 and later): starts `cnnscript lsp` for every
-- cnnscript buffer and shows each layer's output shape as an inlay hint.
--
--   require('cnnscript').setup()                       -- `cnnscript` on PATH
--   require('cnnscript').setup({ cmd = { '/path/to/cnnscript', 'lsp' } })
--
-- Neovim 0.10 and later draw the hints inline (vim.lsp.inlay_hint); older
-- ones get them at the end of the line, as `→ Nx6x28x28`.
local M = {}

M.config = { cmd = { 'cnnscript', 'lsp' }, hints = true }

local ns = vim.api.nvim_create_namespace('cnnscript_shapes')
local client_id = nil

--- The language clients attached to a buffer (any Neovim version).
function M.clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  local out = {}
  for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
    table.insert(out, c)
  end
  return out
end

local function label_text(label)
  if type(label) == 'string' then
    return label
  end
  local parts = {}
  for _, part in ipairs(label) do
    table.insert(parts, part.value)
  end
  return table.concat(parts)
end

--- Ask the server for the buffer's inlay hints and draw them at the ends of
--- their lines (for Neovims without vim.lsp.inlay_hint).
function M.refresh_hints(bufnr)
  local last = vim.api.nvim_buf_line_count(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ['end'] = { line = last, character = 0 } },
  }
  vim.lsp.buf_request(bufnr, 'textDocument/inlayHint', params, function(err, result)
    if err or not result or not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    local by_line = {}
    for _, hint in ipairs(result) do
      local line = hint.position.line
      by_line[line] = by_line[line] or {}
      table.insert(by_line[line], '→ ' .. label_text(hint.label))
    end
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
    for line, labels in pairs(by_line) do
      if line < vim.api.nvim_buf_line_count(bufnr) then
        vim.api.nvim_buf_set_extmark(bufnr, ns, line, 0, {
          virt_text = { { '  ' .. table.concat(labels, '  '), 'Comment' } },
          virt_text_pos = 'eol',
        })
      end
    end
  end)
end

local function show_hints(bufnr)
  if not M.config.hints then
    return
  end
  if vim.lsp.inlay_hint and vim.lsp.inlay_hint.enable then
    vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
    return
  end
  M.refresh_hints(bufnr)
  vim.api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI', 'InsertLeave' }, {
    buffer = bufnr,
    callback = function()
      M.refresh_hints(bufnr)
    end,
  })
end

--- Start (or reuse) the server for a buffer.
function M.attach(bufnr)
  local root = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ':p:h')
  local on_attach = function(_, buf)
    if vim.bo[buf].omnifunc == '' then
      vim.bo[buf].omnifunc = 'v:lua.vim.lsp.omnifunc'
    end
    show_hints(buf)
  end
  if vim.lsp.start then
    vim.lsp.start({ name = 'cnnscript', cmd = M.config.cmd, root_dir = root, on_attach = on_attach }, { bufnr = bufnr })
    return
  end
  -- Neovim 0.7: one client for every cnnscript buffer
  if not client_id or not vim.lsp.get_client_by_id(client_id) then
    client_id = vim.lsp.start_client({ name = 'cnnscript', cmd = M.config.cmd, root_dir = root, on_attach = on_attach })
  end
  if client_id then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
end

--- Start the server for every cnnscript buffer from now on.
function M.setup(opts)
  M.config = vim.tbl_extend('force', M.config, opts or {})
  local group = vim.api.nvim_create_augroup('cnnscript_lsp', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = 'cnnscript',
    callback = function(args)
      M.attach(args.buf)
    end,
  })
end

return M
