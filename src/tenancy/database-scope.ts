/** Who a transaction acts for: one tenant (role `fdl_app`), or the system (role `fdl_system`). */
export type DatabaseScope = { readonly kind: 'tenant'; readonly tenantId: string } | { readonly kind: 'system' };

/** Timeouts applied with `SET LOCAL` at the start of every scoped transaction. */
export interface TransactionTimeouts {
  /** `statement_timeout`, milliseconds. */
  statementMs: number;
  /** `idle_in_transaction_session_timeout`, milliseconds. */
  idleInTransactionMs: number;
}

export const sameScope = (a: DatabaseScope, b: DatabaseScope): boolean =>
  a.kind === b.kind && (a.kind === 'system' || a.tenantId === (b as { tenantId: string }).tenantId);
