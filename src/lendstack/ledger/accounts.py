"""The chart of accounts. Every account exists per currency; postings add the funder and the
loan as dimensions, so one loan's sub-ledger and one funder's share (co-lending, 联合贷款) are
both sums over postings.

Memo accounts (表外科目, codes 9xxx) are off the balance sheet: they record what a borrower owes
that the books do not count as an asset (interest of a loan in non-accrual, a written-off claim).
Each memo posting is matched by one on the memo contra account 9999, so the memo postings of every
entry balance on their own (asserted by `entries.check_balanced`) and the balance sheet stays
untouched by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lendstack.invariants import check


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"
    EQUITY = "equity"
    MEMO = "memo"  # off-balance (表外): balanced among themselves through the memo contra

    @property
    def debit_normal(self) -> bool:
        return self in (AccountKind.ASSET, AccountKind.EXPENSE, AccountKind.MEMO)


class AccountCode(StrEnum):
    LOAN_PRINCIPAL = "1301"  # loan principal receivable 贷款本金
    INTEREST_RECEIVABLE = "1311"  # accrued and billed interest 应收利息
    PENALTY_RECEIVABLE = "1312"  # penalty interest 应收罚息
    FEE_RECEIVABLE = "1313"  # fees 应收费用
    SETTLEMENT_CASH = "1002"  # settlement / clearing account 清算资金
    LOSS_ALLOWANCE = "1304"  # contra-asset: provision for credit losses 贷款损失准备
    # contra-asset: interest and penalty of a non-accrual loan capitalised by a restructure, not yet
    # earned (recognised when the loan returns to accrual or is repaid) 重组资本化利息（待确认）
    UNEARNED_CAPITALISED = "1306"
    SUSPENSE = "2241"  # overpayments held for the borrower 待处理/暂收款
    FUNDER_PAYABLE = "2202"  # what we owe co-lenders / funders 应付资金方
    INTEREST_INCOME = "6011"  # 利息收入
    PENALTY_INCOME = "6012"  # 罚息收入
    FEE_INCOME = "6021"  # 手续费收入
    WRITE_OFF_EXPENSE = "6701"  # 核销损失 / credit impairment loss
    EQUITY_FUNDING = "4001"  # capital the lender lends out of
    MEMO_INTEREST = "9011"  # off-balance interest receivable of non-accrual loans 表外应收利息
    MEMO_PENALTY = "9012"  # off-balance penalty interest receivable 表外应收罚息
    MEMO_WRITTEN_OFF = "9101"  # written-off claims still pursued 已核销贷款（表外登记）
    MEMO_CONTRA = "9999"  # the other side of every memo posting 表外科目对方


@dataclass(frozen=True, slots=True)
class AccountSpec:
    code: AccountCode
    kind: AccountKind
    name_en: str
    name_zh: str


CHART: dict[AccountCode, AccountSpec] = {
    s.code: s
    for s in (
        AccountSpec(AccountCode.LOAN_PRINCIPAL, AccountKind.ASSET, "Loan principal receivable", "贷款本金"),
        AccountSpec(AccountCode.INTEREST_RECEIVABLE, AccountKind.ASSET, "Interest receivable", "应收利息"),
        AccountSpec(AccountCode.PENALTY_RECEIVABLE, AccountKind.ASSET, "Penalty interest receivable", "应收罚息"),
        AccountSpec(AccountCode.FEE_RECEIVABLE, AccountKind.ASSET, "Fee receivable", "应收费用"),
        AccountSpec(AccountCode.SETTLEMENT_CASH, AccountKind.ASSET, "Settlement cash", "清算资金"),
        AccountSpec(AccountCode.LOSS_ALLOWANCE, AccountKind.ASSET, "Loan loss allowance (contra)", "贷款损失准备"),
        AccountSpec(AccountCode.UNEARNED_CAPITALISED, AccountKind.ASSET,
                    "Capitalised interest not yet earned (contra)", "重组资本化利息（待确认）"),
        AccountSpec(AccountCode.SUSPENSE, AccountKind.LIABILITY, "Suspense: overpayments", "暂收款"),
        AccountSpec(AccountCode.FUNDER_PAYABLE, AccountKind.LIABILITY, "Payable to funders", "应付资金方款项"),
        AccountSpec(AccountCode.INTEREST_INCOME, AccountKind.INCOME, "Interest income", "利息收入"),
        AccountSpec(AccountCode.PENALTY_INCOME, AccountKind.INCOME, "Penalty interest income", "罚息收入"),
        AccountSpec(AccountCode.FEE_INCOME, AccountKind.INCOME, "Fee income", "手续费收入"),
        AccountSpec(AccountCode.WRITE_OFF_EXPENSE, AccountKind.EXPENSE, "Write-off expense", "核销损失"),
        AccountSpec(AccountCode.EQUITY_FUNDING, AccountKind.EQUITY, "Lending capital", "放贷资本"),
        AccountSpec(AccountCode.MEMO_INTEREST, AccountKind.MEMO, "Off-balance interest receivable", "表外应收利息"),
        AccountSpec(AccountCode.MEMO_PENALTY, AccountKind.MEMO, "Off-balance penalty receivable", "表外应收罚息"),
        AccountSpec(AccountCode.MEMO_WRITTEN_OFF, AccountKind.MEMO, "Written-off claims", "已核销贷款"),
        AccountSpec(AccountCode.MEMO_CONTRA, AccountKind.MEMO, "Memo contra", "表外科目对方"),
    )
}
check(set(CHART) == set(AccountCode), "every account code has a spec")


@dataclass(frozen=True, slots=True, order=True)
class BalanceKey:
    """One running balance: an account in a currency, for a funder, for a loan ('' = none)."""

    code: AccountCode
    currency: str
    funder_id: str
    loan_id: str

MEMO_CODES = frozenset(code for code, spec in CHART.items() if spec.kind is AccountKind.MEMO)
