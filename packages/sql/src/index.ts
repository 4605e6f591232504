/**
 * Sluice on `@effect/sql`: an external offset store, so that results written to a database
 * with their positions happen exactly once (G10).
 *
 * @since 0.1.0
 */

/**
 * The external offset store on `@effect/sql` (PostgreSQL), the table's migration and the
 * transactional handler helper.
 *
 * @since 0.1.0
 */
export * as SqlOffsetStore from "./SqlOffsetStore.js"
