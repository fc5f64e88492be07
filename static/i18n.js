// i18n.js: every string the pages show, in Chinese (the default) and
// English, and the language switch.
//
// Static text is marked in the HTML: data-i18n="key" sets textContent,
// data-i18n-placeholder / data-i18n-aria-label / data-i18n-title set those
// attributes. Scripts call t(key, {name: value}) for text they build, and
// onLangChange(fn) to re-render it when the resident switches language.
//
// The choice is kept in localStorage; ?lang=en (or ?lang=zh) in the address
// wins over it and is remembered.

const STRINGS = {
  zh: {
    "site.name": "曹家渡街道 居民需求热线",
    "lang.group": "语言 Language",
    "emergency.title": "紧急情况请直接拨打：",
    "emergency.police": "110 报警",
    "emergency.ambulance": "120 急救",
    "emergency.fire": "119 火警",
    "nav.label": "页面",
    "nav.form": "提交需求",
    "nav.status": "查询进度",

    "form.doctitle": "提交需求 - 曹家渡街道居民需求热线",
    "form.title": "告诉我们您需要什么帮助",
    "form.intro": "填好后点最下面的「提交」。工作人员会尽快联系您。",
    "form.category": "1. 需要哪方面的帮助？",
    "form.category.hint": "点一下最接近的一项。",
    "form.category.loading": "正在读取服务类别……",
    "form.category.failed": "服务类别读取失败。请刷新页面再试，或直接拨打热线。",
    "form.category.retry": "重新读取",
    "form.category.other": "其他",
    "group.elderly": "为老服务",
    "group.home": "家里的事",
    "group.community": "小区和邻里",
    "group.advice": "政策和法律咨询",
    "group.care": "关爱和健康",
    "group.other": "其他",
    "form.description": "2. 请说说具体情况",
    "form.description.hint": "例如：楼道灯坏了，晚上看不见。",
    "form.where": "3. 在什么地方？",
    "form.address": "地址",
    "form.address.hint": "小区、路名、门牌号、楼号和房间号，例如：长寿路 123 弄 4 号 502 室。",
    "form.locate": "用我现在的位置",
    "form.locate.busy": "正在定位，请稍候……",
    "form.locate.ok": "已记下您现在的位置（精确到约 {m} 米）。",
    "form.locate.clear": "不用位置",
    "form.locate.denied": "没有得到定位许可。请直接填写地址。",
    "form.locate.failed": "暂时无法定位。请直接填写地址。",
    "form.locate.unsupported": "这台设备无法定位。请直接填写地址。",
    "form.contact": "4. 怎么联系您？",
    "form.phone": "手机号（可不填）",
    "form.phone.hint": "11位手机号。留了号码，才能查询进度、接到回电。",
    "form.name": "怎么称呼您（可不填）",
    "form.name.hint": "例如：王阿姨、李先生。",
    "form.consent": "我同意工作人员为这件事打电话或发短信联系我",
    "form.submit": "提交",
    "form.submitting": "正在提交，请稍候……",

    "form.err.summary": "还有地方需要修改，请看标红的提示。",
    "form.err.busy": "系统繁忙，您的需求尚未提交，请稍后再试。",
    "form.err.busyWait": "系统繁忙，您的需求尚未提交，请过 {s} 秒再点「提交」。",
    "form.err.network": "网络连接出了问题，您的需求可能还没有提交。请检查网络后再点一次「提交」，不会重复登记。",
    "form.err.internal": "系统出错，您的需求可能还没有提交。请稍后再点一次「提交」，或拨打热线。",
    "form.err.tooLarge": "内容太长了，请把说明写短一些。",

    "field.service_code": "请选择一项服务类别。",
    "field.description": "请写一写需要什么帮助（不能空着，也不要太长）。",
    "field.address_string": "地址有误，请检查。",
    "field.location": "位置信息有误，请点「不用位置」，只填写地址。",
    "field.phone": "号码有误。请填写11位手机号（例如 13812345678）或座机号（例如 021-62345678）；也可以不填。",
    "field.name": "称呼有误，请检查，或者不填。",
    "field.email": "电子邮箱有误，请检查。",
    "field.consent": "留了手机号的话，请勾选同意工作人员联系您。",
    "field.language": "语言设置有误，请刷新页面。",

    "done.title": "已收到您的需求",
    "done.number": "您的编号是",
    "done.keep": "请把这个编号记下来，查询进度时要用。",
    "done.phone": "有疑问请拨打街道服务热线：{phone}",
    "done.called": "工作人员会打电话 {phone} 联系您。",
    "done.status": "查看处理进度",
    "done.again": "再提交一项需求",

    "status.doctitle": "查询进度 - 曹家渡街道居民需求热线",
    "status.title": "查询处理进度",
    "status.intro": "请输入提交后得到的编号。",
    "status.id": "编号",
    "status.id.hint": "提交成功后显示的数字，例如 1600 35。",
    "status.last4": "手机号后四位",
    "status.last4.hint": "提交时留的手机号的最后四位。没有留手机号可以不填。",
    "status.submit": "查询",
    "status.loading": "正在查询……",
    "status.notFound": "没有找到该编号，或手机号后四位不符。请核对后再试。",
    "status.badId": "编号有误，请核对后再试。",
    "status.needId": "请输入编号。",
    "status.badLast4": "请输入4位数字。",
    "status.busy": "查询的人太多了，请稍后再试。",
    "status.error": "暂时无法查询，请稍后再试，或拨打热线。",
    "status.network": "网络连接出了问题，请检查网络后再试。",
    "status.result": "编号 {id} 的处理情况",
    "status.now": "当前状态",
    "status.category": "服务类别",
    "status.committee": "所在居委会",
    "status.unit": "负责单位",
    "status.unassigned": "正在安排",
    "status.created": "提交时间",
    "status.updated": "最近更新",
    "status.address": "地址",
    "status.description": "您的描述",
    "status.history": "处理经过",
    "status.new": "提交新的需求",

    "s.new": "新提交",
    "s.routed": "已派单",
    "s.accepted": "已受理",
    "s.in_progress": "处理中",
    "s.resolved": "已解决",
    "s.closed": "已办结",
    "s.cancelled": "已取消",
    "s.reopened": "已重新打开",

    "ev.ticket.created": "需求已提交",
    "ev.ticket.routed": "已派给负责单位",
    "ev.ticket.accepted": "负责单位已受理",
    "ev.ticket.declined": "负责单位无法处理，正在改派",
    "ev.ticket.escalated": "已转交上一级处理",
    "ev.ticket.in_progress": "正在处理",
    "ev.ticket.resolved": "已解决",
    "ev.ticket.closed": "已办结",
    "ev.ticket.cancelled": "已取消",
    "ev.ticket.reopened": "已重新打开",
    "ev.ticket.noted": "工作人员记录了情况",
    "ev.ticket.merged": "与另一条相同的需求合并",
    "ev.ticket.updated": "信息已更新",
    "ev.ticket.rated": "已评价",
    "ev.ticket.asked": "工作人员发短信询问居民",

    "login.doctitle": "工作人员登录 - 曹家渡街道居民需求热线",
    "login.title": "工作人员登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录……",
    "login.bad": "用户名或密码不正确。",
    "login.tooMany": "尝试次数太多，请稍后再试。",
    "login.tooManyWait": "尝试次数太多，请过 {s} 秒再试。",
    "login.error": "暂时无法登录，请稍后再试。",
    "login.network": "网络连接出了问题，请检查网络后再试。",
    "login.resident": "居民请到这里提交需求",

    "staff.doctitle": "工单 - 曹家渡街道居民需求热线",
    "staff.title": "工单",
    "staff.loading": "正在读取……",
    "staff.signedIn": "{name}（{role}）",
    "staff.logout": "退出登录",
    "staff.filters": "筛选",
    "staff.f.status": "状态",
    "staff.f.category": "服务类别",
    "staff.f.committee": "居委会",
    "staff.f.all": "全部",
    "staff.f.open": "未办结（新提交、已派单、已受理、处理中、已重新打开）",
    "staff.f.apply": "筛选",
    "staff.f.reset": "清除筛选",
    "staff.count": "共 {total} 条，显示第 {from}–{to} 条",
    "staff.none": "没有符合条件的工单。",
    "staff.prev": "上一页",
    "staff.next": "下一页",
    "staff.refresh": "刷新",
    "staff.error": "读取失败：{msg}",
    "staff.network": "网络连接出了问题，请稍后再试。",
    "staff.col.id": "编号",
    "staff.col.created": "提交时间",
    "staff.col.category": "类别",
    "staff.col.status": "状态",
    "staff.col.unit": "负责单位",
    "staff.col.address": "地址",
    "staff.detail": "工单详情",
    "staff.detail.empty": "在列表中选一条工单查看详情。",
    "staff.detail.close": "关闭详情",
    "staff.d.description": "描述",
    "staff.d.address": "地址",
    "staff.d.point": "坐标",
    "staff.d.committee": "居委会",
    "staff.d.unit": "负责单位",
    "staff.d.reason": "派单理由",
    "staff.d.contact": "联系人",
    "staff.d.consent": "同意联系",
    "staff.d.yes": "是",
    "staff.d.no": "否",
    "staff.d.channel": "来源",
    "staff.d.created": "提交时间",
    "staff.d.updated": "最近更新",
    "staff.d.satisfaction": "满意度",
    "staff.d.notes": "状态说明",
    "staff.d.merged": "已合并到",
    "staff.d.history": "处理记录",
    "staff.d.by": "操作人：{actor}",
    "staff.d.move": "{from} → {to}",

    "ch.voice": "电话",
    "ch.sms": "短信",
    "ch.web": "网页",
    "ch.open311": "Open311",
    "ch.walk-in": "来访",

    "role.admin": "街道管理员",
    "role.dispatcher": "调度员",
    "role.committee": "居委会",
    "role.social_worker": "社工",
    "role.volunteer": "志愿者",

    "board.doctitle": "调度看板 - 曹家渡街道居民需求热线",
    "board.title": "调度看板",
    "board.link": "调度看板",
    "board.list": "工单列表",
    "board.queue": "待办队列",
    "board.conn.connecting": "正在连接…",
    "board.conn.connected": "已连接",
    "board.conn.reconnecting": "重新连接中…",
    "board.sound": "提示音",
    "board.sound.on": "提示音：开",
    "board.sound.off": "提示音：关",
    "board.f.open": "未办结",
    "board.count": "{n} 条",
    "board.none": "没有符合条件的工单。",
    "board.fresh": "新",
    "board.due.none": "无时限",
    "board.due.ok": "{kind}剩 {time}",
    "board.due.near": "即将超时：{kind}剩 {time}",
    "board.due.over": "已超时：{kind}时限已过 {time}",
    "board.kind.accept": "受理",
    "board.kind.resolve": "办结",
    "board.dur.dh": "{d} 天 {h} 小时",
    "board.dur.hm": "{h} 小时 {m} 分",
    "board.dur.ms": "{m} 分 {s} 秒",
    "board.new.title": "({n}) 新工单",
    "board.new.say": "新工单 {id}：{what}，{where}",
    "board.map": "居委会地图",
    "board.map.hint": "点居委会区域可按该居委会筛选，再点一次取消；点圆点查看工单。",
    "board.map.none": "没有居委会区域数据。",
    "board.map.area": "{name}，{n} 条工单",
    "board.map.count": "{n} 条",
    "board.map.unplaced": "另有 {n} 条工单没有坐标，不在地图上。",
    "board.legend.wait": "待受理",
    "board.legend.work": "处理中",
    "board.legend.done": "已解决 / 已办结",
    "board.legend.near": "即将超时（黄圈）",
    "board.legend.over": "已超时（红圈）",
    "board.detail.empty": "在队列或地图上选一条工单。",
    "board.gone": "这条工单已不归您的单位处理，或者编号有误。",
    "board.d.escalations": "上转次数",
    "board.d.redo": "不满意重办",
    "board.d.accept_by": "受理时限",
    "board.d.resolve_by": "办结时限",
    "board.a.accept": "受理",
    "board.a.decline": "退回",
    "board.a.start": "开始处理",
    "board.a.resolve": "办结",
    "board.a.reopen": "重新打开",
    "board.a.reassign": "改派",
    "board.a.note": "记录情况",
    "board.a.ask": "短信询问居民",
    "board.a.rating": "录入回访满意度",
    "board.a.merge": "合并重复工单",
    "board.a.cancel": "取消工单",
    "board.af.reason": "原因",
    "board.af.text": "说明",
    "board.af.note": "附言",
    "board.af.question": "要问居民的问题（会以短信发给居民，回复记入工单）",
    "board.af.score": "居民的满意度",
    "board.af.comment": "居民的意见",
    "board.af.pick_score": "请选择",
    "board.af.score_5": "5 非常满意",
    "board.af.score_4": "4 满意",
    "board.af.score_3": "3 一般",
    "board.af.score_2": "2 不满意（将重办）",
    "board.af.score_1": "1 非常不满意（将重办）",
    "board.af.unit_id": "改派给",
    "board.af.duplicate_id": "重复工单的编号",
    "board.af.optional": "（可不填）",
    "board.af.required": "请填写这一项。",
    "board.af.close": "不做了",
    "board.af.pick": "请选择单位",
    "board.af.fits": "能处理这一类别",
    "board.af.others": "其他单位",
    "board.done.accept": "已受理工单 {id}。",
    "board.done.decline": "已退回工单 {id}。",
    "board.done.start": "工单 {id} 已开始处理。",
    "board.done.resolve": "工单 {id} 已办结。",
    "board.done.reopen": "工单 {id} 已重新打开。",
    "board.done.reassign": "工单 {id} 已改派。",
    "board.done.note": "已为工单 {id} 记录情况。",
    "board.done.ask": "已给工单 {id} 的居民发短信询问。",
    "board.done.rating": "已为工单 {id} 录入满意度。",
    "board.done.merge": "已把重复工单合并到 {id}。",
    "board.done.cancel": "工单 {id} 已取消。",
    "board.err.conflict": "这条工单刚被别人改过，已重新读取，请看一下再操作。",
    "board.err.forbidden": "没有权限这样做。{msg}",
    "board.err.network": "网络连接出了问题，操作可能没有完成。请看处理记录后再试。",
    "board.stats.title": "近 30 天",
    "board.stats.more": "分单位、分层级",
    "board.stats.none": "暂无统计。",
    "board.stats.response": "响应率",
    "board.stats.resolution": "解决率",
    "board.stats.satisfaction": "满意率",
    "board.tier": "第 {n} 级",
    "board.st.units": "各单位",
    "board.st.by_unit": "各单位",
    "board.st.tiers": "各层级",
    "board.st.by_tier": "各层级",
    "board.st.unit_id": "单位",
    "board.st.unit": "单位",
    "board.st.tier": "层级",
    "board.st.total": "总数",
    "board.st.tickets": "工单数",
    "board.st.count": "数量",
    "board.st.offers": "派单次数",
    "board.st.response_rate": "响应率",
    "board.st.resolution_rate": "解决率",
    "board.st.satisfaction_rate": "满意率",
    "board.st.median_accept_seconds": "受理用时中位数",
    "board.st.median_resolve_seconds": "办结用时中位数",

    "common.none": "—",
  },

  en: {
    "site.name": "Caojiadu Street Residents' Hotline",
    "lang.group": "Language 语言",
    "emergency.title": "In an emergency call:",
    "emergency.police": "110 Police",
    "emergency.ambulance": "120 Ambulance",
    "emergency.fire": "119 Fire",
    "nav.label": "Pages",
    "nav.form": "Ask for help",
    "nav.status": "Check progress",

    "form.doctitle": "Ask for help - Caojiadu Street Residents' Hotline",
    "form.title": "Tell us what you need help with",
    "form.intro": "Fill this in, then press \u201cSend\u201d at the bottom. Staff will contact you soon.",
    "form.category": "1. What do you need help with?",
    "form.category.hint": "Tap the closest one.",
    "form.category.loading": "Loading the list of services\u2026",
    "form.category.failed": "Could not load the list of services. Reload the page, or call the hotline.",
    "form.category.retry": "Try again",
    "form.category.other": "Other",
    "group.elderly": "Older people",
    "group.home": "At home",
    "group.community": "Estate and neighbours",
    "group.advice": "Policy and legal advice",
    "group.care": "Care and health",
    "group.other": "Other",
    "form.description": "2. Tell us what is happening",
    "form.description.hint": "For example: the stairwell light is broken, it is dark at night.",
    "form.where": "3. Where is it?",
    "form.address": "Address",
    "form.address.hint": "Estate, road, number, building and flat, e.g. Lane 123, No. 4, Room 502, Changshou Road.",
    "form.locate": "Use my location",
    "form.locate.busy": "Finding your location\u2026",
    "form.locate.ok": "Your location is noted (to about {m} m).",
    "form.locate.clear": "Don\u2019t use location",
    "form.locate.denied": "Location permission was not given. Please type the address.",
    "form.locate.failed": "Could not find your location. Please type the address.",
    "form.locate.unsupported": "This device cannot find its location. Please type the address.",
    "form.contact": "4. How can we reach you?",
    "form.phone": "Mobile number (optional)",
    "form.phone.hint": "11 digits. Needed to check progress and to be called back.",
    "form.name": "Your name (optional)",
    "form.name.hint": "What should we call you?",
    "form.consent": "I agree that staff may call or text me about this",
    "form.submit": "Send",
    "form.submitting": "Sending, please wait\u2026",

    "form.err.summary": "Some answers need changing: see the messages in red.",
    "form.err.busy": "The system is busy: your request is not saved yet. Please try again in a moment.",
    "form.err.busyWait": "The system is busy: your request is not saved yet. Please press \u201cSend\u201d again in {s} seconds.",
    "form.err.network": "The connection failed: your request may not be saved yet. Check the network and press \u201cSend\u201d again; it will not be filed twice.",
    "form.err.internal": "Something went wrong: your request may not be saved yet. Press \u201cSend\u201d again later, or call the hotline.",
    "form.err.tooLarge": "That is too long. Please shorten the description.",

    "field.service_code": "Please choose a kind of service.",
    "field.description": "Please say what you need (it cannot be empty or very long).",
    "field.address_string": "Please check the address.",
    "field.location": "The location is not usable. Press \u201cDon\u2019t use location\u201d and type the address.",
    "field.phone": "Please give an 11-digit mobile number like 13812345678 or a landline like 021-62345678, or leave it empty.",
    "field.name": "Please check the name, or leave it empty.",
    "field.email": "Please check the email address.",
    "field.consent": "If you give a phone number, please tick to agree that staff may contact you.",
    "field.language": "Language setting not accepted; please reload the page.",

    "done.title": "We have your request",
    "done.number": "Your number is",
    "done.keep": "Please write this number down: you need it to check progress.",
    "done.phone": "Questions? Call the street service hotline: {phone}",
    "done.called": "Staff will call you on {phone}.",
    "done.status": "Check progress",
    "done.again": "Ask for something else",

    "status.doctitle": "Check progress - Caojiadu Street Residents' Hotline",
    "status.title": "Check progress",
    "status.intro": "Enter the number you were given.",
    "status.id": "Number",
    "status.id.hint": "The number shown after you sent your request, e.g. 1600 35.",
    "status.last4": "Last 4 digits of your mobile",
    "status.last4.hint": "Of the number you gave with the request. Leave empty if you gave none.",
    "status.submit": "Look up",
    "status.loading": "Looking up\u2026",
    "status.notFound": "No request with this number, or the last four digits do not match. Please check and try again.",
    "status.badId": "That number is not right. Please check it.",
    "status.needId": "Please enter the number.",
    "status.badLast4": "Please enter 4 digits.",
    "status.busy": "Too many look-ups right now. Please try again later.",
    "status.error": "Cannot look it up right now. Please try again later or call the hotline.",
    "status.network": "The connection failed. Check the network and try again.",
    "status.result": "Request {id}",
    "status.now": "Status",
    "status.category": "Service",
    "status.committee": "Neighbourhood committee",
    "status.unit": "Handled by",
    "status.unassigned": "Being arranged",
    "status.created": "Sent",
    "status.updated": "Last update",
    "status.address": "Address",
    "status.description": "What you wrote",
    "status.history": "What has happened",
    "status.new": "Ask for something else",

    "s.new": "New",
    "s.routed": "Assigned",
    "s.accepted": "Accepted",
    "s.in_progress": "In progress",
    "s.resolved": "Resolved",
    "s.closed": "Closed",
    "s.cancelled": "Cancelled",
    "s.reopened": "Reopened",

    "ev.ticket.created": "Request received",
    "ev.ticket.routed": "Sent to the unit responsible",
    "ev.ticket.accepted": "Accepted by the unit",
    "ev.ticket.declined": "The unit could not take it; reassigning",
    "ev.ticket.escalated": "Passed to the next level",
    "ev.ticket.in_progress": "Work started",
    "ev.ticket.resolved": "Resolved",
    "ev.ticket.closed": "Closed",
    "ev.ticket.cancelled": "Cancelled",
    "ev.ticket.reopened": "Reopened",
    "ev.ticket.noted": "Staff added a note",
    "ev.ticket.merged": "Merged with the same request",
    "ev.ticket.updated": "Details updated",
    "ev.ticket.rated": "Rated",
    "ev.ticket.asked": "Staff asked the resident by SMS",

    "login.doctitle": "Staff sign-in - Caojiadu Street Residents' Hotline",
    "login.title": "Staff sign-in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in\u2026",
    "login.bad": "Wrong username or password.",
    "login.tooMany": "Too many attempts. Please try again later.",
    "login.tooManyWait": "Too many attempts. Please try again in {s} seconds.",
    "login.error": "Cannot sign in right now. Please try again later.",
    "login.network": "The connection failed. Check the network and try again.",
    "login.resident": "Residents: ask for help here",

    "staff.doctitle": "Tickets - Caojiadu Street Residents' Hotline",
    "staff.title": "Tickets",
    "staff.loading": "Loading\u2026",
    "staff.signedIn": "{name} ({role})",
    "staff.logout": "Sign out",
    "staff.filters": "Filters",
    "staff.f.status": "Status",
    "staff.f.category": "Service",
    "staff.f.committee": "Committee",
    "staff.f.all": "All",
    "staff.f.open": "Open (new, assigned, accepted, in progress, reopened)",
    "staff.f.apply": "Filter",
    "staff.f.reset": "Clear filters",
    "staff.count": "{total} in all, showing {from}\u2013{to}",
    "staff.none": "No tickets match.",
    "staff.prev": "Previous",
    "staff.next": "Next",
    "staff.refresh": "Refresh",
    "staff.error": "Could not load: {msg}",
    "staff.network": "The connection failed. Please try again.",
    "staff.col.id": "Number",
    "staff.col.created": "Sent",
    "staff.col.category": "Service",
    "staff.col.status": "Status",
    "staff.col.unit": "Handled by",
    "staff.col.address": "Address",
    "staff.detail": "Ticket details",
    "staff.detail.empty": "Choose a ticket in the list to see its details.",
    "staff.detail.close": "Close details",
    "staff.d.description": "Description",
    "staff.d.address": "Address",
    "staff.d.point": "Coordinates",
    "staff.d.committee": "Committee",
    "staff.d.unit": "Handled by",
    "staff.d.reason": "Why this unit",
    "staff.d.contact": "Contact",
    "staff.d.consent": "Agreed to be contacted",
    "staff.d.yes": "yes",
    "staff.d.no": "no",
    "staff.d.channel": "Channel",
    "staff.d.created": "Sent",
    "staff.d.updated": "Last update",
    "staff.d.satisfaction": "Satisfaction",
    "staff.d.notes": "Status notes",
    "staff.d.merged": "Merged into",
    "staff.d.history": "History",
    "staff.d.by": "by {actor}",
    "staff.d.move": "{from} \u2192 {to}",

    "ch.voice": "phone call",
    "ch.sms": "text message",
    "ch.web": "web",
    "ch.open311": "Open311",
    "ch.walk-in": "walk-in",

    "role.admin": "street administrator",
    "role.dispatcher": "dispatcher",
    "role.committee": "committee staff",
    "role.social_worker": "social worker",
    "role.volunteer": "volunteer",

    "board.doctitle": "Dispatch board - Caojiadu Street Residents' Hotline",
    "board.title": "Dispatch board",
    "board.link": "Dispatch board",
    "board.list": "Ticket list",
    "board.queue": "Queue",
    "board.conn.connecting": "connecting\u2026",
    "board.conn.connected": "connected",
    "board.conn.reconnecting": "reconnecting\u2026",
    "board.sound": "Sound",
    "board.sound.on": "Sound: on",
    "board.sound.off": "Sound: off",
    "board.f.open": "Open",
    "board.count": "{n} tickets",
    "board.none": "No tickets match.",
    "board.fresh": "new",
    "board.due.none": "no time limit",
    "board.due.ok": "{time} left to {kind}",
    "board.due.near": "Due soon: {time} left to {kind}",
    "board.due.over": "Overdue: {kind} limit passed {time} ago",
    "board.kind.accept": "accept",
    "board.kind.resolve": "resolve",
    "board.dur.dh": "{d} d {h} h",
    "board.dur.hm": "{h} h {m} min",
    "board.dur.ms": "{m} min {s} s",
    "board.new.title": "({n}) New ticket",
    "board.new.say": "New ticket {id}: {what}, {where}",
    "board.map": "Committee map",
    "board.map.hint": "Tap a committee's area to filter by it, again to clear; tap a dot to open its ticket.",
    "board.map.none": "No committee areas to draw.",
    "board.map.area": "{name}, {n} tickets",
    "board.map.count": "{n}",
    "board.map.unplaced": "{n} more tickets have no coordinates and are not on the map.",
    "board.legend.wait": "waiting to be accepted",
    "board.legend.work": "being worked on",
    "board.legend.done": "resolved / closed",
    "board.legend.near": "due soon (amber ring)",
    "board.legend.over": "overdue (red ring)",
    "board.detail.empty": "Choose a ticket in the queue or on the map.",
    "board.gone": "This ticket is no longer with your units, or the number is wrong.",
    "board.d.escalations": "Escalations",
    "board.d.redo": "Redo after a low rating",
    "board.d.accept_by": "Accept by",
    "board.d.resolve_by": "Resolve by",
    "board.a.accept": "Accept",
    "board.a.decline": "Decline",
    "board.a.start": "Start work",
    "board.a.resolve": "Resolve",
    "board.a.reopen": "Reopen",
    "board.a.reassign": "Reassign",
    "board.a.note": "Add a note",
    "board.a.ask": "Ask the resident (SMS)",
    "board.a.rating": "Record a callback rating",
    "board.a.merge": "Merge a duplicate",
    "board.a.cancel": "Cancel ticket",
    "board.af.reason": "Reason",
    "board.af.text": "What was done",
    "board.af.note": "Note",
    "board.af.question": "Question for the resident (sent by SMS; the reply is added to the ticket)",
    "board.af.score": "The resident's satisfaction",
    "board.af.comment": "What the resident said",
    "board.af.pick_score": "Choose",
    "board.af.score_5": "5 very satisfied",
    "board.af.score_4": "4 satisfied",
    "board.af.score_3": "3 neither",
    "board.af.score_2": "2 dissatisfied (done again)",
    "board.af.score_1": "1 very dissatisfied (done again)",
    "board.af.unit_id": "Reassign to",
    "board.af.duplicate_id": "Number of the duplicate ticket",
    "board.af.optional": " (optional)",
    "board.af.required": "Please fill this in.",
    "board.af.close": "Never mind",
    "board.af.pick": "Choose a unit",
    "board.af.fits": "Handle this category",
    "board.af.others": "Other units",
    "board.done.accept": "Ticket {id} accepted.",
    "board.done.decline": "Ticket {id} declined.",
    "board.done.start": "Work on ticket {id} started.",
    "board.done.resolve": "Ticket {id} resolved.",
    "board.done.reopen": "Ticket {id} reopened.",
    "board.done.reassign": "Ticket {id} reassigned.",
    "board.done.note": "Note added to ticket {id}.",
    "board.done.ask": "The resident of ticket {id} was asked by SMS.",
    "board.done.rating": "Rating recorded for ticket {id}.",
    "board.done.merge": "Duplicate merged into {id}.",
    "board.done.cancel": "Ticket {id} cancelled.",
    "board.err.conflict": "Someone else has just changed this ticket; it is reloaded, please check it and try again.",
    "board.err.forbidden": "You may not do that. {msg}",
    "board.err.network": "The connection failed; the action may not have gone through. Check the history, then try again.",
    "board.stats.title": "Last 30 days",
    "board.stats.more": "By unit and tier",
    "board.stats.none": "No figures yet.",
    "board.stats.response": "Response rate",
    "board.stats.resolution": "Resolution rate",
    "board.stats.satisfaction": "Satisfaction rate",
    "board.tier": "tier {n}",
    "board.st.units": "By unit",
    "board.st.by_unit": "By unit",
    "board.st.tiers": "By tier",
    "board.st.by_tier": "By tier",
    "board.st.unit_id": "Unit",
    "board.st.unit": "Unit",
    "board.st.tier": "Tier",
    "board.st.total": "Total",
    "board.st.tickets": "Tickets",
    "board.st.count": "Count",
    "board.st.offers": "Offers",
    "board.st.response_rate": "Response rate",
    "board.st.resolution_rate": "Resolution rate",
    "board.st.satisfaction_rate": "Satisfaction rate",
    "board.st.median_accept_seconds": "Median time to accept",
    "board.st.median_resolve_seconds": "Median time to resolve",

    "common.none": "\u2014",
  },
};

// HOTLINE_PHONE is the street service hotline shown on the confirmation.
// Empty means the phone of the service center in the network
// (GET /api/v1/units, the unit of kind service_center); with neither, the
// line is left out.
export const HOTLINE_PHONE = "";

const STORAGE_KEY = "hotline.lang";
const listeners = [];

function initialLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (q === "en" || q === "zh") {
    store(q);
    return q;
  }
  try {
    const s = localStorage.getItem(STORAGE_KEY);
    if (s === "en" || s === "zh") return s;
  } catch (_) {
    // Storage can be blocked (private mode, settings): Chinese it is.
  }
  return "zh";
}

function store(l) {
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch (_) {
    // Not remembered across pages; ?lang= and the switch still work.
  }
}

let current = initialLang();

// lang returns the current language: "zh" or "en".
export function lang() {
  return current;
}

// t returns the string for key in the current language with {name}
// placeholders filled from vars; a missing English string falls back to
// Chinese, a missing key to the key itself (visible, so it gets fixed).
export function t(key, vars) {
  let s = STRINGS[current][key];
  if (s === undefined) s = STRINGS.zh[key];
  if (s === undefined) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// has reports whether key exists.
export function has(key) {
  return key in STRINGS.zh;
}

// named picks the name_zh or name_en field of an API object, falling back
// to the other language.
export function named(obj, prefix = "name") {
  if (!obj) return "";
  const zh = obj[prefix + "_zh"] || "";
  const en = obj[prefix + "_en"] || "";
  return current === "en" ? en || zh : zh || en;
}

export function statusName(s) {
  return has("s." + s) ? t("s." + s) : s || "";
}

export function eventName(type) {
  return has("ev." + type) ? t("ev." + type) : type || "";
}

// apply fills every marked element under root with the current language.
export function apply(root = document) {
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    }
  }
  for (const b of document.querySelectorAll("[data-set-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.setLang === current));
  }
  for (const a of root.querySelectorAll("a[data-keep-lang]")) {
    if (!a.dataset.base) a.dataset.base = a.getAttribute("href");
    a.setAttribute("href", withLang(a.dataset.base));
  }
}

// onLangChange registers fn to run after the language changes.
export function onLangChange(fn) {
  listeners.push(fn);
}

// setLang switches language, remembers it, keeps ?lang= in the address in
// step (so a reload or a shared link shows the same) and re-renders.
export function setLang(l) {
  if (l !== "en" && l !== "zh") return;
  current = l;
  store(l);
  const u = new URL(location.href);
  if (u.searchParams.has("lang")) {
    u.searchParams.set("lang", l);
    history.replaceState(history.state, "", u);
  }
  apply();
  for (const fn of listeners) fn(l);
}

// withLang adds ?lang=en to a same-site link when English is on, so the
// next page opens in English even where localStorage is blocked.
export function withLang(href) {
  if (current !== "en") return href;
  const u = new URL(href, location.origin);
  u.searchParams.set("lang", "en");
  return u.pathname + u.search + u.hash;
}

// init applies the language to the page and wires the switch buttons
// (<button data-set-lang="zh|en">).
export function init() {
  for (const b of document.querySelectorAll("[data-set-lang]")) {
    b.addEventListener("click", () => setLang(b.dataset.setLang));
  }
  apply();
}
