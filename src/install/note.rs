//! What the user should do or know after an install (trust the hooks, turn hooks on,
//! restart sessions), as values with a default wording; the CLI's renderer may phrase them
//! its own way. Decides nothing about when a note applies.

use std::fmt;
use std::path::PathBuf;

use crate::shared::event::Client;

/// Something the user should do or know after an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Codex runs new or changed hooks only once they are trusted (`--trust` or `/hooks`).
    CodexTrustHooks,
    /// `[features] hooks = false` (or `codex_hooks = false`) in this `config.toml`.
    CodexHooksTurnedOff { config: PathBuf },
    /// `hooksConfig.enabled` is `false` in this Gemini settings file.
    GeminiHooksTurnedOff { settings: PathBuf },
    /// The agent reads project settings only in a folder the user trusts.
    ProjectTrust { client: Client },
    /// Auggie runs hooks only when the account's hooks feature is on.
    AuggieHooksFeature,
    /// Kiro runs hooks only for the agent whose file holds them.
    KiroChooseAgent,
    /// The agent has no command hooks difflore can write yet.
    Unsupported { client: Client },
    /// Sessions already running keep the hooks they started with.
    RestartSessions { client: Client },
    /// A file of the user's own sits where difflore's would go: left as it is.
    NotOurs { path: PathBuf, event: &'static str },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::CodexTrustHooks => write!(
                f,
                "Codex runs no hook until it is trusted, and `codex exec` never asks: run this \
                 install again with --trust to trust difflore's entries (and nothing else), or \
                 review them in Codex's /hooks screen"
            ),
            Note::CodexHooksTurnedOff { config } => write!(
                f,
                "hooks are turned off in {}: set `hooks = true` under [features]",
                config.display()
            ),
            Note::GeminiHooksTurnedOff { settings } => write!(
                f,
                "hooks are turned off in {}: set \"hooksConfig\": {{\"enabled\": true}}",
                settings.display()
            ),
            Note::ProjectTrust { client } => write!(
                f,
                "{} reads this project's hooks only once you trust the project folder",
                client.as_str()
            ),
            Note::AuggieHooksFeature => write!(
                f,
                "Auggie runs hooks only when your Augment account has its hooks feature on"
            ),
            Note::KiroChooseAgent => write!(
                f,
                "Kiro runs these hooks only in the difflore agent: start Kiro with `kiro-cli \
                 chat --agent difflore`, make it the default with `kiro-cli settings \
                 chat.defaultAgent difflore`, or copy its hooks into your own agent's file"
            ),
            Note::Unsupported { client } => write!(
                f,
                "difflore cannot install hooks for {} yet; its events are recognised when \
                 they reach difflore-hook",
                client.as_str()
            ),
            Note::NotOurs { path, event } => write!(
                f,
                "{} is not difflore's; it was left as it is, so difflore does not capture \
                 {event} there",
                path.display()
            ),
            Note::RestartSessions { client } => write!(
                f,
                "{} sessions already running keep their old hooks; new sessions use these",
                client.as_str()
            ),
        }
    }
}
