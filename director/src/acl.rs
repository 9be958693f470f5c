//! Console access control lists: `JobACL`, `ClientACL`, ... and the Profiles that bundle them.
//!
//! Bareos (`core/src/dird/ua_acl.cc`, `UaContext::AclAccessOk`):
//!
//! - the default console (`*UserAgent*`, no Console resource) may do everything;
//! - for a named console, names of resources (everything but `WhereACL` and
//!   `PluginOptionsACL`) must first be valid resource names (`IsNameValid`), else access is
//!   denied;
//! - each list is walked in order; an entry starting with `!` denies, any other allows; the
//!   first entry that *matches* decides. An entry matches if it is `*all*`
//!   (case-insensitive), if it equals the item case-insensitively, or, when it contains one
//!   of `.()[]|^$+?*`, if it compiles as an extended, case-insensitive regular expression
//!   that matches the **whole** item. An invalid regex is skipped. No match: denied;
//! - the Console's own lists are checked first, then each of its Profiles in order
//!   (the `Profile` directive's description in `core/src/dird/dird_conf.cc`: "ACL are checked
//!   until either a deny ACL is found or an allow ACL").
//!
//! `CommandACL` is checked against the **full** command name from the command table, after
//! prefix matching (`Do_a_command`): `quit`, `exit` and `whoami` are always allowed.

use regex::RegexBuilder;

/// Which list (`core/src/dird/dird_conf.h` `Job_ACL` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclKind {
    /// `JobACL`
    Job,
    /// `ClientACL`
    Client,
    /// `StorageACL`
    Storage,
    /// `ScheduleACL`
    Schedule,
    /// `PoolACL`
    Pool,
    /// `CommandACL`
    Command,
    /// `FileSetACL`
    FileSet,
    /// `CatalogACL`
    Catalog,
    /// `WhereACL`
    Where,
    /// `PluginOptionsACL`
    PluginOptions,
}

impl AclKind {
    /// Every kind, in Bareos' order.
    pub const ALL: [AclKind; 10] = [
        AclKind::Job,
        AclKind::Client,
        AclKind::Storage,
        AclKind::Schedule,
        AclKind::Pool,
        AclKind::Command,
        AclKind::FileSet,
        AclKind::Catalog,
        AclKind::Where,
        AclKind::PluginOptions,
    ];

    /// The directive name in the configuration (canonical spelling of barque-common).
    pub fn directive(self) -> &'static str {
        match self {
            AclKind::Job => "JobAcl",
            AclKind::Client => "ClientAcl",
            AclKind::Storage => "StorageAcl",
            AclKind::Schedule => "ScheduleAcl",
            AclKind::Pool => "PoolAcl",
            AclKind::Command => "CommandAcl",
            AclKind::FileSet => "FileSetAcl",
            AclKind::Catalog => "CatalogAcl",
            AclKind::Where => "WhereAcl",
            AclKind::PluginOptions => "PluginOptionsAcl",
        }
    }

    fn index(self) -> usize {
        AclKind::ALL.iter().position(|&k| k == self).unwrap_or(0)
    }
}

/// The ten lists of one Console or Profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclLists {
    lists: [Vec<String>; 10],
}

impl AclLists {
    /// Set one list.
    pub fn set(&mut self, kind: AclKind, entries: Vec<String>) {
        if let Some(l) = self.lists.get_mut(kind.index()) {
            *l = entries;
        }
    }

    /// One list.
    pub fn get(&self, kind: AclKind) -> &[String] {
        self.lists
            .get(kind.index())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The first deciding entry of one list, if any (`FindInAclList`).
    pub fn decide(&self, kind: AclKind, item: &str) -> Option<bool> {
        for entry in self.get(kind) {
            let (deny, pattern) = match entry.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, entry.as_str()),
            };
            if entry_matches(pattern, item) {
                return Some(!deny);
            }
        }
        None
    }
}

fn is_regex(s: &str) -> bool {
    s.contains(['.', '(', ')', '[', ']', '|', '^', '$', '+', '?', '*'])
}

fn entry_matches(pattern: &str, item: &str) -> bool {
    if pattern.eq_ignore_ascii_case("*all*") || pattern.eq_ignore_ascii_case(item) {
        return true;
    }
    if !is_regex(pattern) {
        return false;
    }
    // POSIX regexec finds the leftmost match; Bareos then demands it span the whole item.
    // Anchoring the pattern in a group gives the same answer for a full-length match.
    match RegexBuilder::new(&format!("^(?:{pattern})$"))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
    {
        Ok(re) => re.is_match(item),
        Err(_) => false,
    }
}

/// Bareos' `IsNameValid` for resource names: 1..=127 bytes of ASCII letters, digits and
/// `:.-_/ ` (`core/src/lib/edit.cc`).
pub fn is_name_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 128
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":.-_/ ".contains(&c))
}

/// What a console session may do: `None` lists for the default console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAcl {
    /// The console's own lists, then its profiles' lists in order. Empty = default console.
    layers: Vec<AclLists>,
    named: bool,
}

impl UserAcl {
    /// The default console: everything is allowed.
    pub fn root() -> Self {
        Self::default()
    }

    /// A named console with its own lists and its profiles' lists, in check order.
    pub fn named(own: AclLists, profiles: Vec<AclLists>) -> Self {
        let mut layers = vec![own];
        layers.extend(profiles);
        Self {
            layers,
            named: true,
        }
    }

    /// True for the default console.
    pub fn is_root(&self) -> bool {
        !self.named
    }

    /// `AclAccessOk`.
    pub fn allows(&self, kind: AclKind, item: &str) -> bool {
        if !matches!(kind, AclKind::Where | AclKind::PluginOptions) && !is_name_valid(item) {
            return false;
        }
        if !self.named {
            return true;
        }
        self.layers
            .iter()
            .find_map(|l| l.decide(kind, item))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(kind: AclKind, entries: &[&str]) -> AclLists {
        let mut l = AclLists::default();
        l.set(kind, entries.iter().map(|s| s.to_string()).collect());
        l
    }

    #[test]
    fn root_allows_everything_valid() {
        let a = UserAcl::root();
        assert!(a.allows(AclKind::Job, "CapBackup"));
        assert!(!a.allows(AclKind::Job, "bad\"name"));
        assert!(a.allows(AclKind::Where, "/tmp/x y\"z"));
    }

    #[test]
    fn all_exact_regex_and_negation() {
        let a = UserAcl::named(lists(AclKind::Job, &["!Secret.*", "*all*"]), vec![]);
        assert!(a.allows(AclKind::Job, "CapBackup"));
        assert!(!a.allows(AclKind::Job, "SecretJob"));
        assert!(!a.allows(AclKind::Client, "bareos-fd"), "empty list denies");

        let b = UserAcl::named(lists(AclKind::Client, &["bareos-FD"]), vec![]);
        assert!(
            b.allows(AclKind::Client, "bareos-fd"),
            "exact, case-insensitive"
        );
        assert!(!b.allows(AclKind::Client, "bareos-fd2"));

        let c = UserAcl::named(lists(AclKind::Job, &["Cap.*"]), vec![]);
        assert!(c.allows(AclKind::Job, "capbackup"));
        assert!(
            !c.allows(AclKind::Job, "xCapBackup"),
            "regex must match the whole item"
        );

        let d = UserAcl::named(lists(AclKind::Job, &["Cap(", "CapBackup"]), vec![]);
        assert!(d.allows(AclKind::Job, "CapBackup"), "invalid regex skipped");
    }

    #[test]
    fn profiles_are_checked_after_own_lists() {
        let own = lists(AclKind::Command, &["!run"]);
        let profile = lists(AclKind::Command, &["*all*"]);
        let a = UserAcl::named(own, vec![profile]);
        assert!(!a.allows(AclKind::Command, "run"));
        assert!(a.allows(AclKind::Command, "status"));
    }
}
