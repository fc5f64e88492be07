package phone

import (
	"fmt"
	"strings"

	"github.com/caojiadu/hotline"
)

// Every text the line speaks or sends, in Mandarin and English, so that a
// wording change is made in one place and the two languages stay in step.
// Verbs are %s/%d in the order the callers pass them.

type phrase struct{ zh, en string }

// text renders p in lang ("en", else Chinese).
func text(lang string, p phrase, args ...any) string {
	f := p.zh
	if lang == "en" {
		f = p.en
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// sayLanguage is the language attribute of <Say> and <Gather>.
func sayLanguage(lang string) string {
	if lang == "en" {
		return "en-US"
	}
	return "cmn-CN"
}

var (
	// The greeting is spoken in Mandarin, then its English choice in English.
	voiceGreeting = phrase{
		zh: "您好，这里是社区生活服务热线。如遇紧急情况，请挂机拨打110报警，120急救，119火警。",
		en: "Hello, this is the community life service hotline.",
	}
	voiceForEnglish = phrase{zh: "For English, press 9.", en: "For English, press 9."}
	voiceEmergency  = phrase{
		zh: "如遇紧急情况，请挂机拨打110报警，120急救，119火警。",
		en: "If this is an emergency, hang up and call 110 for the police, 120 for an ambulance, or 119 for fire.",
	}
	voiceCategoryAsk = phrase{
		zh: "请选择服务类别：按编号再按井号键，或者直接说出类别。",
		en: "Please choose the kind of help you need: press its number and then the hash key, or just say it.",
	}
	voiceCategoryItem  = phrase{zh: "按%d，%s。", en: "%d, %s."}
	voiceNotUnderstood = phrase{
		zh: "抱歉，没有听清。",
		en: "Sorry, I did not catch that.",
	}
	voiceCategoryChosen  = phrase{zh: "您选择的是：%s。", en: "You chose: %s."}
	voiceCategoryDefault = phrase{
		zh: "我们先按“%s”为您登记，工作人员会再确认。",
		en: "We will register it as %s for now; staff will check it with you.",
	}
	voiceCommitteeKnown = phrase{zh: "您所在的居委会是%s。", en: "You are in the area of %s."}
	voiceCommitteeAsk   = phrase{
		zh: "请输入您所在居委会的编号，再按井号键；或者说出您的地址，例如：长寿路178号。不清楚请按0。",
		en: "Please enter the number of your neighbourhood committee and then the hash key, or say your address, for example: 178 Changshou Road. If you do not know, press 0.",
	}
	voiceCommitteeItem   = phrase{zh: "%d，%s。", en: "%d, %s."}
	voiceCommitteeChosen = phrase{zh: "好的，%s。", en: "Thank you: %s."}
	voiceCommitteeNone   = phrase{
		zh: "好的，街道服务中心会为您安排。",
		en: "All right, the street service centre will find the right place for your request.",
	}
	voiceClosed = phrase{
		zh: "现在不是热线的服务时间。您可以留言，工作人员上班后会尽快处理。",
		en: "The hotline is closed now. You can leave a message and staff will deal with it as soon as they are back.",
	}
	voiceDescribeAsk = phrase{
		zh: "请简要说明您需要什么帮助，说完请稍等。",
		en: "Please tell us briefly what you need, then wait a moment.",
	}
	voiceRecordAsk = phrase{
		zh: "如需补充，请在提示音后留言，说完按井号键。不需要补充请直接按井号键。",
		en: "To add anything, speak after the beep and press the hash key when you are done. If not, just press the hash key.",
	}
	voiceTicketNumber = phrase{
		zh: "您的需求已登记，工单号是：%s。再说一遍：%s。",
		en: "Your request is registered. Your ticket number is: %s. Again: %s.",
	}
	voiceBySMS = phrase{
		zh: "工单号也会用短信发给您。",
		en: "We will also send it to you by text message.",
	}
	voiceGoodbye = phrase{zh: "谢谢您的来电，再见。", en: "Thank you for calling. Goodbye."}
	voiceSorry   = phrase{
		zh: "抱歉，系统暂时出了问题，请稍后再拨。",
		en: "Sorry, something went wrong on our side. Please call again a little later.",
	}
	// voiceNoted is said in both languages, Mandarin first: the store is
	// away, so the caller's language choice may not be known.
	voiceNoted = phrase{
		zh: "系统暂时繁忙，我们已记下您的来电，会尽快回电。",
		en: "We could not take your request right now; we have noted your call and will call you back.",
	}
	voiceSorryCallback = phrase{
		zh: "抱歉，系统暂时出了问题。我们已记下您的号码，工作人员会回电。",
		en: "Sorry, something went wrong on our side. We have your number and staff will call you back.",
	}

	// descriptions of tickets the line files by itself
	descCallback = phrase{
		zh: "来电未完成或未接通，请回电。",
		en: "A call that was missed or not finished: please call back.",
	}
	descCallbackStatus = phrase{zh: "通话状态：%s。", en: "Call status: %s."}
	// statusJournaled stands for the call status of a call the journal
	// kept (the caller heard voiceNoted).
	statusJournaled = phrase{
		zh: "来电时系统暂时不可用，已告知来电者会回电",
		en: "the system was unavailable during the call; the caller was told we would call back",
	}
	descCallbackChose = phrase{zh: "已选类别：%s。", en: "Category chosen: %s."}
	descCallbackSaid  = phrase{zh: "来电者说：%s", en: "The caller said: %s"}
	descNoWords       = phrase{
		zh: "来电者未说明具体情况，请回电了解。",
		en: "The caller gave no details; please call back to ask.",
	}

	smsTicketNumber = phrase{
		zh: "【社区服务热线】您的需求已登记，工单号：%s。回复工单号可查询进度。",
		en: "Community hotline: your request is registered, ticket number %s. Reply with the number to see how it stands.",
	}
	smsNew = phrase{
		zh: "【社区服务热线】已收到，工单号：%s，类别：%s。如类别不对，请回复编号更正：%s。补充情况请直接回复。",
		en: "Community hotline: received, ticket %s, category: %s. If the category is wrong, reply with its number: %s. Reply to add details.",
	}
	smsNoted     = phrase{zh: "已补充到工单%s。", en: "Added to ticket %s."}
	smsCorrected = phrase{zh: "工单%s的类别已改为：%s。", en: "Ticket %s is now in the category: %s."}
	smsTooLate   = phrase{
		zh: "工单%s已被受理，类别不能再更改。如需补充，请回复文字说明。",
		en: "Ticket %s has already been accepted, so its category can no longer change. To add details, reply in words.",
	}
	smsStatus   = phrase{zh: "工单%s（%s）：%s。", en: "Ticket %s (%s): %s."}
	smsNotFound = phrase{
		zh: "没有找到本机号码登记的工单%s，请核对工单号。",
		en: "No ticket %s was registered from this phone number; please check the number.",
	}
	smsNoTickets = phrase{
		zh: "没有找到本机号码登记的工单。请回复工单号查询。",
		en: "No ticket registered from this phone number was found. Reply with a ticket number to look it up.",
	}
	smsStopped = phrase{
		zh: "您已退订，将不再收到本热线的短信。回复“订阅”或START可恢复。",
		en: "You are unsubscribed and will get no more messages from the hotline. Reply START to subscribe again.",
	}
	smsStarted = phrase{zh: "您已恢复订阅本热线的短信。", en: "You will get the hotline's messages again."}
	smsRated   = phrase{zh: "感谢您的评价（%d分）！", en: "Thank you for your rating (%d)!"}
	smsRedo    = phrase{
		zh: "感谢您的评价（%d分）。很抱歉没能让您满意，我们已重新安排处理，工单号：%s。",
		en: "Thank you for your rating (%d). We are sorry it did not go well; we are dealing with it again, ticket %s.",
	}
	smsHelp = phrase{
		zh: "请用文字说明您需要什么帮助，我们会为您登记。回复工单号可查询进度。紧急情况请拨打110、120、119。",
		en: "Please describe in words what you need and we will register it. Reply with a ticket number to see how it stands. In an emergency call 110, 120 or 119.",
	}
	smsNotedLater = phrase{
		zh: "系统暂时繁忙，您的短信已记下，系统恢复后会立即处理并短信回复您。",
		en: "We could not handle your message right now; we have kept it and will deal with it and reply by text as soon as the system is back.",
	}
	smsSorry = phrase{
		zh: "抱歉，系统暂时无法处理您的短信，请稍后再发，或拨打热线。",
		en: "Sorry, we could not handle your message just now. Please send it again later, or call the hotline.",
	}
)

var statusNames = map[hotline.Status]phrase{
	hotline.StatusNew:        {zh: "已登记，等待分派", en: "registered, waiting to be assigned"},
	hotline.StatusRouted:     {zh: "已分派，等待受理", en: "assigned, waiting to be accepted"},
	hotline.StatusAccepted:   {zh: "已受理", en: "accepted"},
	hotline.StatusInProgress: {zh: "处理中", en: "in progress"},
	hotline.StatusResolved:   {zh: "已办结", en: "resolved"},
	hotline.StatusClosed:     {zh: "已关闭", en: "closed"},
	hotline.StatusCancelled:  {zh: "已取消", en: "cancelled"},
	hotline.StatusReopened:   {zh: "已重新打开", en: "reopened"},
}

func statusName(lang string, s hotline.Status) string {
	if p, ok := statusNames[s]; ok {
		return text(lang, p)
	}
	return string(s)
}

// categoryList is the numbered list an SMS offers for corrections:
// "1 助餐送餐；2 上门探访；…".
func categoryList(lang string, cats []hotline.Category) string {
	sep := "；"
	if lang == "en" {
		sep = "; "
	}
	parts := make([]string, len(cats))
	for i, c := range cats {
		parts[i] = fmt.Sprintf("%d %s", i+1, c.Name(lang))
	}
	return strings.Join(parts, sep)
}

// spokenDigits reads an id digit by digit: "160035" → "1 6 0 0 3 5".
func spokenDigits(id string) string {
	return strings.Join(strings.Split(id, ""), " ")
}
