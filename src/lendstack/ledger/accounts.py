"""The chart of accounts. Every account exists per currency; postings add the funder and the
loan as dimensions, so one loan's sub-ledger and one funder's share (co-lending, 联合贷款) are
both sums over postings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"
    EQUITY = "equity"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountKind.ASSET, AccountKind.EXPENSE)


class AccountCode(StrEnum):
    LOAN_PRINCIPAL = "1301"  # loan principal receivable 贷款本金
    INTEREST_RECEIVABLE = "1311"  # accrued and billed interest 应收利息
    PENALTY_RECEIVABLE = "1312"  # penalty interest 应收罚息
    FEE_RECEIVABLE = "1313"  # fees 应收费用
    SETTLEMENT_CASH = "1002"  # settlement / clearing account 清算资金
    LOSS_ALLOWANCE = "1304"  # contra-asset: provision for credit losses 贷款损失准备
    SUSPENSE = "2241"  # overpayments held for the borrower 待处理/暂收款
    FUNDER_PAYABLE = "2202"  # what we owe co-lenders / funders 应付资金方
    INTEREST_INCOME = "6011"  # 利息收入
    PENALTY_INCOME = "6012"  # 罚息收入
    FEE_INCOME = "6021"  # 手续费收入
    WRITE_OFF_EXPENSE = "6701"  # 核销损失 / credit impairment loss
    EQUITY_FUNDING = "4001"  # capital the lender lends out of


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
        AccountSpec(AccountCode.SUSPENSE, AccountKind.LIABILITY, "Suspense: overpayments", "暂收款"),
        AccountSpec(AccountCode.FUNDER_PAYABLE, AccountKind.LIABILITY, "Payable to funders", "应付资金方款项"),
        AccountSpec(AccountCode.INTEREST_INCOME, AccountKind.INCOME, "Interest income", "利息收入"),
        AccountSpec(AccountCode.PENALTY_INCOME, AccountKind.INCOME, "Penalty interest income", "罚息收入"),
        AccountSpec(AccountCode.FEE_INCOME, AccountKind.INCOME, "Fee income", "手续费收入"),
        AccountSpec(AccountCode.WRITE_OFF_EXPENSE, AccountKind.EXPENSE, "Write-off expense", "核销损失"),
        AccountSpec(AccountCode.EQUITY_FUNDING, AccountKind.EQUITY, "Lending capital", "放贷资本"),
    )
}
assert set(CHART) == set(AccountCode), "every account code has a spec"


@dataclass(frozen=True, slots=True, order=True)
class BalanceKey:
    """One running balance: an account in a currency, for a funder, for a loan ('' = none)."""

    code: AccountCode
    currency: str
    funder_id: str
    loan_id: str
