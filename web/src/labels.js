// Chinese labels and colours shared by every screen (the server is the source of the labels it sends).
export const STATE_LABELS = {
  registered: '已受理', triaged: '待分流', joint_review: '联合研判', dispatched: '已交办', returned: '已退回',
  arbitration: '待审定', accepted: '已签收', in_progress: '处置中', handled: '待回访', closed: '已办结', void: '已作废',
}
export const STATE_TYPES = {
  registered: 'info', triaged: 'warning', joint_review: 'warning', dispatched: 'primary', returned: 'danger',
  arbitration: 'danger', accepted: 'primary', in_progress: 'primary', handled: 'warning', closed: 'success', void: 'info',
}
export const ACTION_LABELS = {
  classify: '分类', dispatch: '分流交办', joint_review: '提交联合研判', decide: '审定交办', accept: '签收', return: '退回',
  start: '开始处置', request_extension: '申请延期', approve_extension: '批准延期', reject_extension: '驳回延期',
  feedback: '办理反馈', visit_attempt: '回访未接通', close: '办结', reopen: '重新处置', escalate: '上交上级',
  take_charge: '领导包案', void: '作废',
}
export const KIND_LABELS = {
  dispute: '矛盾纠纷', hazard: '风险隐患', facility: '部件问题', request: '群众诉求', petition: '信访事项', police: '110警情',
}
export const CHANNEL_LABELS = {
  window: '窗口受理', grid: '网格员上报', hotline: '12345热线', wechat: '微信/小程序', email: '电子邮件',
  petition: '网上信访', police: '110转办', device: '智能监测设备', tipline: '扫黑除恶举报', citizen: '群众自报',
}
export const ROLE_LABELS = {
  admin: '管理员', operator: '受理员', handler: '部门办理人', grid_worker: '网格员', mediator: '调解员',
  supervisor: '督查专员', leader: '领导',
}
export const RISK_TYPES = { 高: 'danger', 中: 'warning', 低: 'info' }
export const DEADLINE_STATUS = {
  on_time: ['正常', 'success'], warning: ['预警', 'warning'], overdue: ['超期', 'danger'],
  met: ['按时完成', 'success'], met_late: ['超期完成', 'info'],
}
export const PURPOSE_LABELS = { report: '上报材料', evidence: '办理凭证', document: '文书' }

const fmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  hour12: false,
})
export function fmtTime(iso) {
  if (!iso) return '—'
  return fmt.format(new Date(iso)).replace(/\//g, '-')
}

export function fmtLeft(seconds) {
  const neg = seconds < 0
  let s = Math.abs(Math.round(seconds))
  const d = Math.floor(s / 86400); s %= 86400
  const h = Math.floor(s / 3600); s %= 3600
  const m = Math.floor(s / 60); s %= 60
  // Days away, minutes no longer matter; hours away, seconds do not (and the text stays on one line).
  const body = d ? `${d}天${h}小时` : h ? `${h}小时${m}分` : `${m}分${s}秒`
  return neg ? `已超期 ${body}` : `剩余 ${body}`
}

// 18-digit resident ID (GB 11643): region, birth date, sequence, ISO 7064 mod 11-2 check digit.
export function checkIdNumber(value) {
  const v = (value || '').trim().toUpperCase()
  if (!/^\d{17}[\dX]$/.test(v)) return '身份证号应为18位，最后一位可为X'
  const y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14)
  const date = new Date(Date.UTC(y, m - 1, d))
  if (y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d)
    return '身份证号中的出生日期无效'
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = weights.reduce((acc, w, i) => acc + w * +v[i], 0)
  if ('10X98765432'[sum % 11] !== v[17]) return '身份证号校验位不正确，请核对'
  return null
}

export function checkPhone(value) {
  const v = (value || '').trim()
  if (/^1[3-9]\d{9}$/.test(v) || /^0\d{2,3}-?\d{7,8}$/.test(v)) return null
  return '请输入11位手机号或带区号的固定电话'
}
