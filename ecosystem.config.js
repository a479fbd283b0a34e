// pm2 start ecosystem.config.js — the three servers of the Theme API suite.
// Ports and every other knob come from the environment (see README "Configuration").
const path = require("path");
const fs = require("fs");

const root = __dirname;
const venvPython = path.join(root, ".venv", "bin", "python");
const python = fs.existsSync(venvPython) ? venvPython : "python";

// Shared by all three: drain on SIGTERM (pm2's default SIGINT would cut requests off),
// and back off instead of restarting a server that cannot start in a tight loop.
const common = {
  kill_signal: "SIGTERM",
  treekill: false, // signal gunicorn's master only; it drains its workers
  kill_timeout: 30000,
  min_uptime: "20s",
  max_restarts: 10,
  exp_backoff_restart_delay: 1000,
  autorestart: true,
  merge_logs: true,
  env: { HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", PYTHONUNBUFFERED: "1" },
};

module.exports = {
  apps: [
    {
      ...common,
      name: "theme_classification_server",
      cwd: path.join(root, "theme_classification"),
      script: "server.sh",
      interpreter: "bash",
    },
    {
      ...common,
      name: "theme_generation_server",
      cwd: path.join(root, "theme_generation"),
      script: "server.sh",
      interpreter: "bash",
    },
    {
      ...common,
      name: "file_server",
      cwd: path.join(root, "file_server"),
      script: "file_server.py",
      interpreter: python,
    },
  ],
};
