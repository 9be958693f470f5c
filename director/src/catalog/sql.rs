//! The narrow SQL layer both backends implement: positional `?` parameters, a handful of value
//! kinds, rows as vectors.
//!
//! Every catalog operation is written once, in [`super::ops`] and [`super::restore`], against
//! [`Conn`]. The SQL it uses is the common subset of SQLite (≥ 3.35) and PostgreSQL (≥ 12):
//! `INSERT … RETURNING`, `ON CONFLICT DO NOTHING`, window functions, `LIMIT`. Two things differ
//! and are handled here rather than in the queries:
//!
//! * placeholders: the operations write `?`; the PostgreSQL backend renumbers them `$1, $2…`
//!   ([`renumber_placeholders`]);
//! * timestamps: Bareos' PostgreSQL schema has `TIMESTAMP WITHOUT TIME ZONE` columns and its
//!   SQLite schema `DATETIME` (text `YYYY-MM-DD HH:MM:SS`). Operations pass times as
//!   [`Value::Time`] (Unix seconds, UTC); SQLite stores the text form, PostgreSQL binds a
//!   `TIMESTAMP`. Reading goes through [`Row::time`], which accepts either. Text timestamps
//!   compare correctly as strings, so `ORDER BY StartTime` works on both.
//!
//! PostgreSQL is strict about integer widths (`INTEGER` vs `BIGINT` vs `SMALLINT`) where SQLite
//! has one integer type: [`Value::Int`] is `i64`, the PostgreSQL backend narrows it to the type
//! the server inferred for the parameter and reports an overflow as [`Error::OutOfRange`]
//! instead of wrapping.

use std::fmt;

use super::time;
use super::Error;

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL through the `postgres` crate.
    Postgres,
    /// SQLite through `rusqlite` (bundled library).
    Sqlite,
}

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// A text column.
    Text(String),
    /// A timestamp, Unix seconds UTC.
    Time(i64),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::Null, Value::Int)
    }
}

/// A timestamp parameter (Unix seconds), or NULL.
pub fn time_value(t: Option<i64>) -> Value {
    t.map_or(Value::Null, Value::Time)
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value, Error> {
        self.0
            .get(i)
            .ok_or(Error::Schema("column index out of range"))
    }

    /// An integer column; NULL is an error.
    pub fn int(&self, i: usize) -> Result<i64, Error> {
        match self.get(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(Error::Schema("expected an integer column")),
        }
    }

    /// An integer column that may be NULL (reads as 0, as Bareos' `str_to_int64(NULL)`).
    pub fn int_or_zero(&self, i: usize) -> Result<i64, Error> {
        match self.get(i)? {
            Value::Null => Ok(0),
            _ => self.int(i),
        }
    }

    /// An integer column that must fit `u32`.
    pub fn u32(&self, i: usize) -> Result<u32, Error> {
        u32::try_from(self.int_or_zero(i)?).map_err(|_| Error::OutOfRange)
    }

    /// A text column; NULL reads as the empty string.
    pub fn text(&self, i: usize) -> Result<String, Error> {
        match self.get(i)? {
            Value::Text(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            _ => Err(Error::Schema("expected a text column")),
        }
    }

    /// A timestamp column (text on SQLite, `TIMESTAMP` on PostgreSQL), `None` when NULL.
    pub fn time(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Time(t) => Ok(Some(*t)),
            Value::Int(t) => Ok(Some(*t)),
            Value::Text(s) => time::parse_sql(s).map(Some),
        }
    }
}

/// What a backend connection must provide. Implementations hold one connection; the caller
/// serialises access (`&mut self`).
pub trait Conn: Send {
    /// Which dialect the SQL must be written in (for the few DDL differences).
    fn dialect(&self) -> Dialect;
    /// Run statements without parameters (DDL, `BEGIN`, `COMMIT`), separated by `;`.
    fn batch(&mut self, sql: &str) -> Result<(), Error>;
    /// Run one statement with `?` parameters; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error>;
    /// Run one query with `?` parameters; returns all rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error>;
}

/// Rewrite `?` placeholders as `$1, $2, …` (PostgreSQL), leaving `?` inside single-quoted
/// literals alone.
pub fn renumber_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0u32;
    let mut in_str = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_str = !in_str;
                out.push(c);
            }
            '?' if !in_str => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// `?, ?, ?` with `n` placeholders (for `IN (…)` lists and multi-row `VALUES`).
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "postgresql",
            Dialect::Sqlite => "sqlite3",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_outside_literals() {
        assert_eq!(
            renumber_placeholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
        );
        assert_eq!(placeholders(3), "?, ?, ?");
        assert_eq!(placeholders(0), "");
    }

    #[test]
    fn row_accessors_reject_wrong_kinds() {
        let r = Row(vec![
            Value::Int(-1),
            Value::Text("x".into()),
            Value::Null,
            Value::Text("2026-11-22 15:46:54".into()),
        ]);
        assert_eq!(r.int(0), Ok(-1));
        assert_eq!(r.u32(0), Err(Error::OutOfRange));
        assert!(r.int(1).is_err());
        assert!(r.int(2).is_err());
        assert_eq!(r.int_or_zero(2), Ok(0));
        assert_eq!(r.text(2), Ok(String::new()));
        assert_eq!(r.time(2), Ok(None));
        assert_eq!(r.time(3), Ok(Some(1_795_362_414)));
        assert!(r.time(1).is_err());
        assert!(r.int(9).is_err());
    }
}
