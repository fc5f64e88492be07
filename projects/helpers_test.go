package projects_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

var shanghai = time.FixedZone("CST", 8*3600)

// env is one test's stores on the test Redis, under a prefix of its own.
type env struct {
	client   redis.UniversalClient
	prefix   string
	db       *redisstore.DB
	projects *redisstore.ProjectStore
	tickets  *redisstore.TicketStore
	dir      *hotline.StaticDirectory
	svc      *projects.Service
	now      time.Time
}

// MustEnv returns stores on a fresh prefix of the test Redis, the demo
// street and a service whose clock reads now.
func MustEnv(tb testing.TB, now time.Time) *env {
	tb.Helper()
	c, prefix := redistest.New(tb)
	db := redisstore.NewDB(c, prefix)
	e := &env{client: c, prefix: prefix, db: db, projects: redisstore.NewProjectStore(db),
		tickets: redisstore.NewTicketStore(db), dir: hotline.NewStaticDirectory(network.Demo()), now: now}
	e.svc = &projects.Service{Store: e.projects, Needs: e.tickets, Records: e.tickets, Directory: e.dir,
		Now: func() time.Time { return e.now }}
	return e
}

// Users of the demo street, one per kind of reader.
var (
	admin      = &hotline.User{ID: "u-admin", Role: hotline.RoleAdmin}
	social     = &hotline.User{ID: "u-social", Role: hotline.RoleSocialWorker, UnitID: "center"}
	centerDesk = &hotline.User{ID: "u-desk", Role: hotline.RoleDispatcher, UnitID: "center"}
	c01Staff   = &hotline.User{ID: "u-c01", Role: hotline.RoleCommittee, UnitID: "c01"}
	c05Staff   = &hotline.User{ID: "u-c05", Role: hotline.RoleCommittee, UnitID: "c05"}
	orgStaff   = &hotline.User{ID: "u-org", Role: hotline.RoleDispatcher, UnitID: "org-elderly"}
	volunteer  = &hotline.User{ID: "u-vol", Role: hotline.RoleVolunteer, UnitID: "c01"}
)

// MustProject stores p and fails the test on error.
func MustProject(tb testing.TB, e *env, p *hotline.Project) *hotline.Project {
	tb.Helper()
	if err := e.projects.CreateProject(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// draft is a draft of code in committees with the given evidence counts.
func draft(code string, tickets int, committees ...string) *hotline.Project {
	p := &hotline.Project{Status: hotline.ProjectDraft, Year: 2027, ServiceCode: code,
		TitleZH: code + "服务项目", TitleEN: "Project for " + code, Population: "elderly", OrgKind: "elderly_care",
		Committees: committees, PersonTimes: tickets * 10, CostPerPersonTime: 16.5, Budget: float64(tickets*10) * 16.5}
	p.Evidence.Tickets = tickets
	for i := range tickets {
		p.Evidence.TicketIDs = append(p.Evidence.TicketIDs, fmt.Sprintf("%s-%02d", code, i))
	}
	for _, c := range committees {
		p.Evidence.Committees = append(p.Evidence.Committees, hotline.CommitteeCount{Committee: c, Count: tickets / len(committees)})
	}
	return p
}

// MustTicket stores t and fails the test on error.
func MustTicket(tb testing.TB, e *env, t *hotline.Ticket) *hotline.Ticket {
	tb.Helper()
	if t.Channel == "" {
		t.Channel = hotline.ChannelVoice
	}
	if _, err := e.tickets.CreateTicket(context.Background(), t, ""); err != nil {
		tb.Fatal(err)
	}
	return t
}

// AssertCode fails the test unless err carries the hotline error code want.
func AssertCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := hotline.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

func ptr[T any](v T) *T { return &v }

// needs writes a half-year of two recurring needs and some one-offs,
// ending just before end: meals for elderly people living alone in c01
// (3 a month, 6 months) and broken stairwell lights in c05 (3 a month).
// It returns the ids of the meals tickets and of the lights tickets.
func needs(tb testing.TB, e *env, end time.Time) (meals, lights []string) {
	tb.Helper()
	mealSays := []string{"独居老人腿脚不便，希望能上门送餐", "家里老人一个人住，做饭困难，能不能每天送饭上门",
		"社区能不能安排送餐，老人八十多岁一个人在家吃饭成问题", "想问问有没有上门送餐，老人独居"}
	lightSays := []string{"楼道灯坏了，晚上上下楼黑乎乎的", "我们这栋楼的楼梯灯不亮了", "楼道里的灯一直不亮，请派电工来换一下"}
	c01, _ := e.dir.Network().Unit("c01")
	c05, _ := e.dir.Network().Unit("c05")
	n := 0
	for m := 6; m >= 1; m-- {
		for i := range 3 {
			at := end.AddDate(0, -m, 0).Add(time.Duration(i*7+1) * 24 * time.Hour)
			n++
			t := MustTicket(tb, e, &hotline.Ticket{ServiceCode: "elderly_meals", Description: mealSays[(m+i)%len(mealSays)],
				Location: hotline.Location{Lat: c01.Lat, Long: c01.Long, Committee: "c01"},
				Contact:  hotline.Contact{Phone: fmt.Sprintf("+86137000%05d", n)}, Status: hotline.StatusResolved,
				UnitID: "c01-meals", CreatedAt: at, ResolvedAt: at.Add(24 * time.Hour), Satisfaction: 4})
			meals = append(meals, t.ID)
			t = MustTicket(tb, e, &hotline.Ticket{ServiceCode: "facilities", Description: lightSays[(m+i)%len(lightSays)],
				Location: hotline.Location{Lat: c05.Lat, Long: c05.Long, Committee: "c05"},
				Contact:  hotline.Contact{Phone: fmt.Sprintf("+86139000%05d", n)}, Status: hotline.StatusClosed,
				UnitID: "c05", CreatedAt: at.Add(time.Hour)})
			lights = append(lights, t.ID)
		}
	}
	for i, d := range []string{"想咨询一下居住证怎么办理", "邻居家的狗每天晚上叫", "想了解一下青少年暑期活动"} {
		MustTicket(tb, e, &hotline.Ticket{ServiceCode: []string{"policy", "dispute", "youth"}[i], Description: d,
			Location: hotline.Location{Committee: "c03"}, CreatedAt: end.AddDate(0, -2, i)})
	}
	return meals, lights
}
