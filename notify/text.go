package notify

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// noteRunes is how much of the resolution note a resolved message quotes:
// with the rest of the text it stays within two UCS-2 segments (134
// characters).
const noteRunes = 60

// Language returns the language of the texts for a ticket's language: "en"
// for English, "zh" (the default) for anything else.
func Language(lang string) string {
	if strings.EqualFold(lang, "en") || strings.HasPrefix(strings.ToLower(lang), "en-") {
		return "en"
	}
	return "zh"
}

// AcceptedText tells the resident a unit took the ticket on.
func AcceptedText(lang, ticketID string) string {
	if lang == "en" {
		return "Community hotline: your ticket " + ticketID + " has been accepted and is being handled."
	}
	return "【社区服务热线】您的工单 " + ticketID + " 已受理，工作人员会尽快处理。"
}

// ResolvedText tells the resident the ticket was resolved, with what was
// done (the unit's note, shortened and with long digit runs, such as
// phone numbers, masked).
func ResolvedText(lang, ticketID, note string) string {
	note = cleanNote(note)
	if lang == "en" {
		s := "Community hotline: your ticket " + ticketID + " has been resolved."
		if note != "" {
			s += " Done: " + note
		}
		return s
	}
	s := "【社区服务热线】您的工单 " + ticketID + " 已办结。"
	if note != "" {
		s += "处理情况：" + note
	}
	return s
}

// RatingRequestText asks the resident to rate the ticket by replying.
func RatingRequestText(lang, ticketID string) string {
	if lang == "en" {
		return "How satisfied are you with ticket " + ticketID + "? Reply 1-5 (5 = very satisfied); you may add words."
	}
	return "请为工单 " + ticketID + " 的处理打分：回复 1-5（5 = 非常满意），可附上意见。"
}

// QuestionText asks the resident a unit's question about their ticket;
// the reply comes back to the ticket. Long digit runs in the question are
// masked as in resolution notes, and it is cut to a readable length.
func QuestionText(lang, ticketID, question string) string {
	question = cleanNote(question)
	if lang == "en" {
		return "Community hotline, about your ticket " + ticketID + ": " + question + " Please reply to this message."
	}
	return "【社区服务热线】关于您的工单 " + ticketID + "：" + question + " 请直接回复本短信。"
}

// numberLike is a run of digits, possibly split by spaces or hyphens, as
// phone numbers are written ("021 5555 1234", "139-1234-5678").
var numberLike = regexp.MustCompile(`\d(?:[ -]?\d)+`)

// cleanNote puts the note on one line, masks every digit of a number-like
// run of 7 or more digits (phone numbers, ids: a note is written for
// staff, not for an SMS) and cuts it to noteRunes characters.
func cleanNote(note string) string {
	note = strings.Join(strings.Fields(note), " ")
	note = numberLike.ReplaceAllStringFunc(note, func(run string) string {
		if strings.Count(run, " ")+strings.Count(run, "-")+7 > len(run) {
			return run // fewer than 7 digits
		}
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '*'
			}
			return r
		}, run)
	})
	if utf8.RuneCountInString(note) > noteRunes {
		note = string([]rune(note)[:noteRunes-1]) + "…"
	}
	return note
}
