//! The SQLite backend (`rusqlite`, with the SQLite library compiled in: no system package).
//!
//! One file in the Director's working directory, created on first start. WAL journaling and
//! `synchronous=NORMAL` keep the attribute inserts of a large job fast while staying crash-safe
//! at transaction boundaries; statements are prepared once and cached by their SQL text.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, ToSql};

use super::sql::{Conn, Dialect, Row, Value};
use super::{time, Error};

/// A catalog connection to an SQLite file.
pub struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    /// Open (creating if missing) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let conn = Connection::open(path).map_err(db)?;
        Self::setup(conn)
    }

    /// A private in-memory database (tests, tools).
    pub fn open_in_memory() -> Result<Self, Error> {
        Self::setup(Connection::open_in_memory().map_err(db)?)
    }

    fn setup(conn: Connection) -> Result<Self, Error> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        )
        .map_err(db)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }
}

fn db(e: rusqlite::Error) -> Error {
    Error::Database(e.to_string())
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*v)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Time(t) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Text(time::format_sql(*t)))
            }
        })
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.conn.execute_batch(sql).map_err(db)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let mut st = self.conn.prepare_cached(sql).map_err(db)?;
        let n = st
            .execute(params_from_iter(params.iter().map(Param)))
            .map_err(db)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let mut st = self.conn.prepare_cached(sql).map_err(db)?;
        let ncol = st.column_count();
        let mut rows = st
            .query(params_from_iter(params.iter().map(Param)))
            .map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            let mut vals = Vec::with_capacity(ncol);
            for i in 0..ncol {
                vals.push(match r.get_ref(i).map_err(db)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|_| Error::Schema("non-UTF-8 text in the catalog"))?
                            .to_owned(),
                    ),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(Error::Schema("unexpected REAL or BLOB column"))
                    }
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}
