package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// stmts keeps each query prepared once per database handle: SQLite parses
// and plans a statement on every call otherwise, which costs more CPU
// than running most of the lab's queries.
type stmts struct {
	mu sync.Mutex
	db *sql.DB // the handle the statements belong to
	m  map[string]*sql.Stmt
}

// prepared returns q prepared on db. A re-seeded replica gets a new
// handle; the old handle's statements closed with it.
func (d *SQLData) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	c := &d.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != db {
		c.db, c.m = db, map[string]*sql.Stmt{}
	}
	if st := c.m[q]; st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

// ExecContext runs a statement that returns no rows, prepared once.
func (d *SQLData) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := d.prepared(ctx, d.DB(), q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a query, prepared once.
func (d *SQLData) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := d.prepared(ctx, d.DB(), q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowScan runs a query that returns one row, prepared once, and
// scans it into dest.
func (d *SQLData) QueryRowScan(ctx context.Context, q string, args []any, dest ...any) error {
	st, err := d.prepared(ctx, d.DB(), q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// Tx is a transaction whose statements are prepared once per database
// handle and reused by every transaction after.
type Tx struct {
	*sql.Tx
	d  *SQLData
	db *sql.DB
}

// BeginTx starts a transaction.
func (d *SQLData) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	db := d.DB()
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, d: d, db: db}, nil
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.d.prepared(ctx, t.db, q)
	if err != nil {
		return nil, err
	}
	return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.d.prepared(ctx, t.db, q)
	if err != nil {
		// a Row carries its error to Scan; prepare again to get one
		return t.Tx.QueryRowContext(ctx, q, args...)
	}
	return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}
