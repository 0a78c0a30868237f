package customer

import (
	"math/rand/v2"
	"strings"
)

// namePart is a family or given name as written and in the ASCII letters
// used for e-mail addresses.
type namePart struct {
	text, roman string
}

// nameStyle is how names are made and written in one culture.
type nameStyle struct {
	family, given []namePart
	// familyFirst writes the family name first, as in Chinese and Japanese.
	familyFirst bool
	sep         string
	// doubleGiven is the per-mille chance of a given name of two parts,
	// as most Chinese given names are.
	doubleGiven int
}

func (s *nameStyle) pick(r *rand.Rand) (family, given namePart) {
	family = s.family[r.IntN(len(s.family))]
	given = s.given[r.IntN(len(s.given))]
	if s.doubleGiven > 0 && perMille(r, s.doubleGiven) {
		g2 := s.given[r.IntN(len(s.given))]
		given = namePart{text: given.text + g2.text, roman: given.roman + g2.roman}
	}
	return family, given
}

func (s *nameStyle) display(family, given namePart) string {
	if s.familyFirst {
		return family.text + s.sep + given.text
	}
	return given.text + s.sep + family.text
}

// parts parses a space-separated list of names. "_" in a name stands for a
// space ("van_der_Merwe"); "text=roman" gives the romanization, which
// otherwise is the name's ASCII letters in lower case.
func parts(list string) []namePart {
	var ps []namePart
	for _, f := range strings.Fields(list) {
		text, roman, ok := strings.Cut(f, "=")
		if !ok {
			roman = strings.Map(func(r rune) rune {
				switch {
				case 'a' <= r && r <= 'z':
					return r
				case 'A' <= r && r <= 'Z':
					return r + 'a' - 'A'
				}
				return -1
			}, text)
		}
		if roman == "" || strings.Trim(roman, "abcdefghijklmnopqrstuvwxyz") != "" {
			panic("customer: name " + f + " needs a romanization in a-z")
		}
		ps = append(ps, namePart{text: strings.ReplaceAll(text, "_", " "), roman: roman})
	}
	return ps
}

var (
	chineseNames = &nameStyle{
		familyFirst: true,
		doubleGiven: 700,
		family: parts(`王=wang 李=li 张=zhang 刘=liu 陈=chen 杨=yang 黄=huang 赵=zhao 吴=wu
			周=zhou 徐=xu 孙=sun 马=ma 朱=zhu 胡=hu 郭=guo 何=he 高=gao 林=lin 罗=luo 郑=zheng
			梁=liang 谢=xie 宋=song 唐=tang 许=xu 韩=han 冯=feng 邓=deng 曹=cao 彭=peng 曾=zeng
			肖=xiao 田=tian 董=dong 袁=yuan 潘=pan 于=yu 蒋=jiang 蔡=cai 余=yu 杜=du 叶=ye
			程=cheng 苏=su 魏=wei 吕=lv 丁=ding 任=ren 沈=shen 姚=yao 卢=lu 姜=jiang 崔=cui
			钟=zhong 谭=tan 陆=lu 汪=wang 范=fan 金=jin 石=shi 廖=liao 贾=jia 夏=xia 韦=wei
			付=fu 方=fang 白=bai 邹=zou 孟=meng 熊=xiong 秦=qin 邱=qiu 江=jiang 尹=yin 薛=xue
			段=duan 雷=lei 侯=hou 龙=long 史=shi 陶=tao 黎=li 贺=he 顾=gu 毛=mao 郝=hao 龚=gong
			邵=shao 万=wan 钱=qian 严=yan 武=wu 戴=dai 莫=mo 孔=kong 欧阳=ouyang 司马=sima`),
		given: parts(`伟=wei 芳=fang 娜=na 敏=min 静=jing 丽=li 强=qiang 磊=lei 军=jun 洋=yang
			勇=yong 艳=yan 杰=jie 娟=juan 涛=tao 明=ming 超=chao 秀=xiu 霞=xia 平=ping 刚=gang
			桂=gui 英=ying 华=hua 玉=yu 兰=lan 萍=ping 红=hong 鹏=peng 辉=hui 文=wen 斌=bin
			宇=yu 浩=hao 凯=kai 晨=chen 欣=xin 怡=yi 子=zi 涵=han 梓=zi 轩=xuan 雨=yu 婷=ting
			佳=jia 琪=qi 思=si 博=bo 嘉=jia 俊=jun 宁=ning 晓=xiao 颖=ying 雪=xue 慧=hui 建=jian
			国=guo 海=hai 志=zhi 鑫=xin 亮=liang 婉=wan 瑶=yao 欢=huan 梅=mei 琳=lin 诗=shi
			晴=qing 阳=yang 昊=hao 然=ran 泽=ze 睿=rui 一=yi 诺=nuo 可=ke 馨=xin 安=an 冰=bing 丹=dan`),
	}
	anglo = &nameStyle{
		sep: " ",
		family: parts(`Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor
			Thomas Moore Martin Jackson White Harris Clark Lewis Walker Hall Young King Wright
			Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Evans Turner Murphy
			O'Brien Kelly Cooper Ward Hughes Wood Garcia Rodriguez Martinez Lopez Nguyen Kim Patel
			MacDonald Singh Cohen`),
		given: parts(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth
			David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Emily
			Matthew Olivia Oliver Amelia Jack Isla Harry Ava George Mia Noah Charlotte Liam Sophie
			Ethan Grace Lucas Chloe Aiden Zoe Mohammed Priya Wei Hannah Sean Aroha`),
	}
	indian = &nameStyle{
		sep: " ",
		family: parts(`Sharma Patel Singh Kumar Gupta Reddy Iyer Nair Mehta Joshi Rao Das
			Banerjee Chatterjee Verma Khan Menon Pillai`),
		given: parts(`Aarav Vivaan Aditya Arjun Rohan Rahul Vikram Ananya Priya Diya Aditi Kavya
			Neha Pooja Sneha Ishaan Sai Lakshmi Farhan Zoya`),
	}
	singaporean = &nameStyle{
		familyFirst: true,
		sep:         " ",
		family:      parts(`Tan Lim Lee Ng Ong Wong Goh Chua Chan Koh Teo Ang Yeo Tay`),
		given: parts(`Wei_Ling Jia_Hui Jun_Jie Zhi_Hao Hui_Min Kai_Xuan Shu_Fen Wei_Ming Xin_Yi
			Jia_Wei Li_Ting Kok_Wai Siew_Mei Boon_Keng`),
	}
	japanese = &nameStyle{
		familyFirst: true,
		family: parts(`佐藤=sato 鈴木=suzuki 高橋=takahashi 田中=tanaka 伊藤=ito 渡辺=watanabe
			山本=yamamoto 中村=nakamura 小林=kobayashi 加藤=kato 吉田=yoshida 山田=yamada`),
		given: parts(`翔太=shota 健=ken 大輔=daisuke 拓也=takuya 陽菜=hina 結衣=yui 美咲=misaki
			さくら=sakura 葵=aoi 蓮=ren 悠真=yuma 花子=hanako`),
	}
	german = &nameStyle{
		sep: " ",
		family: parts(`Müller=mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz
			Hoffmann Schäfer=schaefer Koch Richter Klein Wolf`),
		given: parts(`Lukas Leon Finn Jonas Paul Felix Emma Mia Hannah Lena Lea Sophie
			Jürgen=juergen Katharina Maximilian Anna`),
	}
	french = &nameStyle{
		sep: " ",
		family: parts(`Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau
			Lefèvre=lefevre Girard Fontaine Rousseau`),
		given: parts(`Léa=lea Chloé=chloe Manon Camille Inès=ines Hugo Lucas Louis Gabriel Jules
			Théo=theo Élodie=elodie Hélène=helene François=francois`),
	}
	portuguese = &nameStyle{
		sep: " ",
		family: parts(`Silva Santos Oliveira Souza Pereira Costa Rodrigues Almeida Ferreira
			Carvalho Gonçalves=goncalves Medeiros Sousa`),
		given: parts(`João=joao Maria Ana Pedro Lucas Gabriel Beatriz Mariana Rafael Inês=ines
			Tiago Sofia Luís=luis Conceição=conceicao`),
	}
	southAfrican = &nameStyle{
		sep: " ",
		family: parts(`Nkosi Dlamini Ndlovu Khumalo van_der_Merwe Botha Naidoo Smith Mokoena
			Pillay Jacobs Nel`),
		given: parts(`Thabo Sipho Lerato Naledi Themba Zanele Pieter Johan Annelie Ayanda
			Michelle Bongani`),
	}
	arabic = &nameStyle{
		sep: " ",
		family: parts(`Al_Mansouri Al_Hashimi Al_Nuaimi Al_Zaabi Al_Ketbi Haddad Khoury Khan
			Saleh Nasser`),
		given: parts(`Mohammed Ahmed Omar Ali Fatima Aisha Mariam Khalid Layla Hassan Noura
			Yousef Hamdan Shamma`),
	}
	persian = &nameStyle{
		sep: " ",
		family: parts(`Hosseini Ahmadi Mohammadi Rezaei Karimi Moradi Rahimi Jafari Tehrani
			Sadeghi Kazemi`),
		given: parts(`Reza Ali Mehdi Sara Maryam Zahra Amir Hossein Niloufar Dariush Parisa
			Shirin Babak`),
	}
	nepali = &nameStyle{
		sep: " ",
		family: parts(`Shrestha Gurung Tamang Sharma Adhikari Thapa Rai Magar Karki Basnet
			Pradhan Lama`),
		given: parts(`Aashish Bikash Sita Gita Suman Anjali Prakash Sabina Ramesh Kabita
			Pemba Sunita`),
	}
	pacific = &nameStyle{
		sep: " ",
		family: parts(`Tekeiaki Taburuea Teiwaki Fifita Taufa Tupou Vaipulu Lolohea Faleolo
			Tuilagi Leota Sapolu`),
		given: parts(`Teuea Tebano Taaneti Sione Mele Losana Viliami Tevita Ana Sefo Malia
			Tavita Kaufusi`),
	}
)
